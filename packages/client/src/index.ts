/**
 * @stowage/client: the typed Stowage API for any JavaScript runtime with fetch (browsers included).
 * File transfers from and to disk are in `@stowage/client/node`.
 */
export {
  type Folder,
  type Job,
  type NewPart,
  type Part,
  type StowageClient,
  type StowageClientOptions,
  type StowageFile,
  type StowageHelpers,
  type Upload,
  type WaitOptions,
  createStowageClient,
} from './client.js';
export { type CallResult, type FieldProblem, StowageError, errorOf, unwrap } from './errors.js';
export type { ListItem, ListParams, ListPath } from './lists.js';
export type { components, operations, paths } from './openapi.js';
