import { ErrorCodes } from '@herald/core';
import { Type } from '@sinclair/typebox';

/** Domain error codes of the routes, and the problem each is answered with. */
export const API_ERRORS = {
  usernameTaken: 'username-taken',
  userNotFound: 'user-not-found',
  artistNotFound: 'artist-not-found',
  unknownArtist: 'unknown-artist',
  postNotFound: 'post-not-found',
  emptyChange: 'empty-change',
  cannotFollowSelf: 'cannot-follow-self',
} as const;

/** `errorKinds` of the gateway for {@link API_ERRORS}. */
export const API_ERROR_KINDS: Readonly<Record<string, string>> = {
  [API_ERRORS.usernameTaken]: 'conflict',
  [API_ERRORS.userNotFound]: 'not-found',
  [API_ERRORS.artistNotFound]: 'not-found',
  [API_ERRORS.unknownArtist]: ErrorCodes.invalidOptions,
  [API_ERRORS.postNotFound]: 'not-found',
  [API_ERRORS.emptyChange]: ErrorCodes.invalidOptions,
  [API_ERRORS.cannotFollowSelf]: ErrorCodes.invalidOptions,
};

/** Text PostgreSQL can store: anything but NUL (SQLite would take it; PostgreSQL refuses it). */
export const NO_NUL = '^[^\\u0000]*$';
/** Text with no NUL (as {@link NO_NUL}) and at least one character that is not white space. */
export const NOT_BLANK = '^(?=[\\s\\S]*?\\S)[^\\u0000]*$';
/** An id in a path or a body. */
export const Id = Type.String({ minLength: 1, maxLength: 100, pattern: NO_NUL });
/** `{ id }` path parameters. */
export const IdParams = Type.Object({ id: Id });
