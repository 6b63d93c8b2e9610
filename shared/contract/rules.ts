/**
 * Naming rules shared by the stack, the runtime and the operator command, each written once.
 */

/** A stage name: lower-case letters, digits and dashes, 1 to 20 long, starting with a letter. */
export const STAGE_PATTERN = /^[a-z][a-z0-9-]{0,19}$/;

/** A model name such as `gpt-4o` or `meta/llama-3:70b`: these characters, 1 to MODEL_MAX_LENGTH of them. */
export const MODEL_PATTERN = /^[\w.:/@-]+$/;
export const MODEL_MAX_LENGTH = 100;

/** The model when neither the request nor the organization names one. */
export const DEFAULT_MODEL = 'gpt-4o';

/** Secrets Manager name prefix of a stage's organization secrets: `ai-chat/<stage>/orgs/`. */
export const orgSecretPrefix = (stage: string): string => `ai-chat/${stage}/orgs/`;

/** The settings secret of one organization on a stage: `ai-chat/<stage>/orgs/<orgId>`. */
export const orgSecretName = (stage: string, orgId: string): string => `${orgSecretPrefix(stage)}${orgId}`;
