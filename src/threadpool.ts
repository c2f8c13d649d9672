/**
 * Imported first by the CLI, before anything touches libuv's thread pool (which reads its size once).
 *
 * Why: every file write, read and fsync of the local blob store runs on that pool, 4 threads by
 * default. A few parallel multipart parts each waiting in fdatasync occupy all four, and every other
 * file operation (the next part's writes, downloads, the background hash) queues behind them.
 */
const DEFAULT_THREADS = 16;

process.env.UV_THREADPOOL_SIZE ??= String(DEFAULT_THREADS);
