/** The few API calls the CLI makes, with the error envelope turned into a readable exception. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class StowageClient {
  constructor(
    readonly baseUrl: string,
    private readonly key: string,
  ) {}

  async call<T = any>(method: string, route: string, body?: unknown): Promise<T> {
    const response = await fetch(this.baseUrl.replace(/\/+$/, '') + route, {
      method,
      headers: { 'x-api-key': this.key, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const parsed = text ? JSON.parse(text) : null;
    if (!response.ok) {
      const error = parsed?.error;
      const details = Array.isArray(error?.details)
        ? error.details.map((d: { path: string; message: string }) => ` ${d.path}: ${d.message}`).join(';')
        : '';
      throw new ApiError(
        response.status,
        error?.code ?? 'http_error',
        `${method} ${route}: ${response.status} ${error?.message ?? text}${details}`,
      );
    }
    return parsed as T;
  }

  /** Polls the confirm job until it ends, then answers the upload as it stands. */
  async waitForVerdict(uploadId: string, jobId: string, timeoutMs = 24 * 3600_000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    // Quick at first (most confirms take well under a second) and never over a second: a GET is cheap,
    // and waiting two seconds past the verdict made the whole upload measurably slower.
    let delay = 100;
    for (;;) {
      const job = await this.call('GET', `/api/v1/jobs/${jobId}`);
      if (job.status === 'succeeded' || job.status === 'failed') return this.call('GET', `/api/v1/uploads/${uploadId}`);
      if (Date.now() > deadline) throw new Error(`the confirm job ${jobId} did not finish in time`);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(1000, delay * 1.3);
    }
  }
}
