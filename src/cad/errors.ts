/**
 * Why a preview could not be made. Each is a verdict on this one file under these limits, so the job
 * records it and does not retry; anything else thrown by the converter (a missing input file, a full
 * disk) is ours and worth a retry.
 */
export type PreviewFailure =
  | 'timeout' // the child ran past limits.timeoutMs and was killed
  | 'memory_limit' // the child's resident memory went past limits.maxMemoryMb
  | 'unreadable' // not a valid file of its format (garbage, truncated)
  | 'empty_model' // valid, but holds no triangles to show
  | 'unsupported' // valid, but uses what we do not convert (external glTF resources, a required extension, > 2 GiB)
  | 'crashed' // the converter died on it some other way (a WASM trap, a signal)
  | 'aborted'; // the caller's AbortSignal fired

export class PreviewError extends Error {
  override name = 'PreviewError';
  constructor(
    readonly reason: PreviewFailure,
    message: string,
    /** The child's peak resident memory, when it was measured before the failure. */
    readonly peakRssMb?: number,
  ) {
    super(message);
  }
}
