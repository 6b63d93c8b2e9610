/** Who is calling: taken from a verified token only, never from the body or the path. */
export interface Principal {
  readonly orgId: string;
  readonly userId: string;
  /** The org role as Clerk names it in v1 tokens, e.g. `org:admin`, `org:member`. */
  readonly role: string;
}

/**
 * `org_` and letters and digits, as Clerk makes them (`org_2abc...`). Single underscores between
 * groups are accepted too, so the integration guide's own examples (`org_medical_clinic`) work.
 * Never `#` (our key separator) and never anything that is not a safe environment variable name part.
 */
export const ORG_ID_PATTERN = /^org_[a-zA-Z0-9]+(?:_[a-zA-Z0-9]+)*$/;

/** Org admins may read every session of their org (but change only their own). */
export const isOrgAdmin = (principal: Principal): boolean => principal.role === 'org:admin';
