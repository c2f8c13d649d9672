/**
 * Where an upload stands. `sentBytes` counts only what this run sent, so `sentBytes / elapsed` is an
 * honest rate; `doneBytes` (stored before this run plus sent by it) only grows, and ends at
 * `totalBytes`. A resumed upload says so from its first report: `resumedParts` of `totalParts`
 * were stored already.
 */
export interface UploadProgress {
  uploadId: string;
  /** `sending` while bytes go out; `confirming` once storage holds them all and the confirm job's verdict is awaited. */
  stage: 'sending' | 'confirming';
  totalBytes: number;
  doneBytes: number;
  sentBytes: number;
  resumedBytes: number;
  totalParts: number;
  doneParts: number;
  resumedParts: number;
  /** True when this run took up an upload an earlier one started. */
  resumed: boolean;
  /** Bytes hashed so far (the hash runs while the parts go out); `totalBytes` once the sha256 is known. */
  hashedBytes: number;
}

/** Keeps the counts of one upload and reports each change. */
export class ProgressReporter {
  private readonly state: UploadProgress;

  constructor(
    private readonly report: ((progress: UploadProgress) => void) | undefined,
    start: Pick<UploadProgress, 'uploadId' | 'totalBytes' | 'totalParts' | 'resumedBytes' | 'resumedParts' | 'resumed' | 'hashedBytes'>,
  ) {
    this.state = { ...start, stage: 'sending', doneBytes: start.resumedBytes, sentBytes: 0, doneParts: start.resumedParts };
  }

  get current(): Readonly<UploadProgress> {
    return this.state;
  }

  started(): void {
    this.emit();
  }

  sent(n: number): void {
    this.state.sentBytes += n;
    this.state.doneBytes += n;
    this.emit();
  }

  partDone(): void {
    this.state.doneParts++;
    this.emit();
  }

  hashed(n: number): void {
    this.state.hashedBytes += n;
    this.emit();
  }

  confirming(): void {
    this.state.stage = 'confirming';
    this.emit();
  }

  private emit(): void {
    this.report?.({ ...this.state });
  }
}
