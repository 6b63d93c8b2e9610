/** The contract's limits (../API.md "Limits" and "Conventions"), in one place for handlers, schemas and the local gateway. */
export const LIMITS = {
  /** Request bodies up to 256 KB; 413 past it. */
  maxBodyBytes: 256 * 1024,
  /** A message, task or system prompt up to 100,000 characters. */
  maxTextChars: 100_000,
  /** A session name. */
  maxNameChars: 200,
  /** A history up to 200 entries. */
  maxHistoryEntries: 200,
  /** List pages: 1..100, default 20. */
  maxPageSize: 100,
  defaultPageSize: 20,
  /** The sessions list takes up to 1000 (the seed's cleanupOldSessions reads that many at once). */
  maxSessionPageSize: 1000,
  /**
   * A list answer stops adding items past this many bytes of JSON and says has_more, so it stays
   * well under Lambda's 6 MB response limit even when every item holds a 100,000-character prompt.
   */
  maxListResponseBytes: 4 * 1024 * 1024,
} as const;
