/**
 * A URL as it may be printed: its password, in the user part or the query, replaced by `***`. REDIS_URL carries Redis's password
 * (redis://user:password@host:6379), and logs and start-up errors are read, kept and shipped by
 * people and systems that should not learn it.
 */
export function redactUrl(raw: string): string {
  // Not parsed with URL: a value that fails validation (a mistyped scheme, a port out of range) is printed
  // too, and must lose its password all the same.
  // ioredis also takes the password as a query parameter (redis://host:6379?password=…).
  return raw.replace(/(\/\/[^/?#@:]*):[^/?#]*@/, '$1:***@').replace(/([?&]password=)[^&#]*/gi, '$1***');
}
