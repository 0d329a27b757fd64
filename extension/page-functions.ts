/**
 * Functions the popup runs inside the target page with `scripting.executeScript({ func, args })`.
 * The browser serializes `func` by its source text, so each must be self-contained: no imports,
 * no closures, nothing from this module's scope. The ISOLATED world shares the page's localStorage.
 */

/** Sets the flag (`value`) or removes it (`null`), and returns what localStorage holds afterwards. */
export function writeFlagInPage(key: string, value: string | null): string | null {
  if (value === null) localStorage.removeItem(key);
  else localStorage.setItem(key, value);
  return localStorage.getItem(key);
}

/** Reads the flag as the page sees it. */
export function readFlagInPage(key: string): string | null {
  return localStorage.getItem(key);
}
