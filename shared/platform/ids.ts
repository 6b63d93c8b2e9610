import { monotonicFactory } from 'ulid';

const nextUlid = monotonicFactory();

/** A new id: a monotonic ULID, so ids made later in this process always sort after earlier ones. */
export const newId = (): string => nextUlid();

/** Crockford base32 ULID, as made by {@link newId}. Anything else is not one of our ids. */
export const ID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/;
