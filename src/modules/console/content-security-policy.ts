import type { Config } from '../../config.js';

/**
 * The console's Content-Security-Policy: its own scripts and styles only (no inline script, no eval;
 * WebAssembly, which model-viewer's mesh decoder compiles, is allowed), the fixed inline styles the
 * build hashed, API calls to this origin, and the GLB of a 3D preview from wherever signed URLs
 * point (this origin with the local driver, the bucket with S3). `blob:`/`data:` serve what the page
 * makes itself (thumbnails fetched with the key, Uppy's previews, textures inside a GLB).
 */
export function consolePolicy(config: Pick<Config, 's3'>): (inlineStyleHashes: readonly string[]) => string {
  const storage = config.s3 ? storageOrigins(config.s3) : [];
  return (inlineStyleHashes) =>
    [
      "default-src 'none'",
      "script-src 'self' 'wasm-unsafe-eval'",
      ["style-src 'self'", ...inlineStyleHashes].join(' '),
      "img-src 'self' blob: data:",
      ["connect-src 'self' blob: data:", ...storage].join(' '),
      "font-src 'self'",
      // model-viewer's Draco/KTX2 decoders would run in workers fetched from a CDN: previews need neither.
      "worker-src 'self'",
      "manifest-src 'self'",
      "base-uri 'none'",
      "form-action 'self'",
      "frame-ancestors 'none'",
    ].join('; ');
}

/** Where a presigned S3 URL of this bucket points: the endpoint (path style) or the bucket's own host. */
function storageOrigins(s3: NonNullable<Config['s3']>): string[] {
  if (s3.endpoint) {
    const endpoint = new URL(s3.endpoint);
    if (s3.forcePathStyle) return [endpoint.origin];
    return [`${endpoint.protocol}//${s3.bucket}.${endpoint.host}`, endpoint.origin];
  }
  return [`https://${s3.bucket}.s3.${s3.region}.amazonaws.com`, `https://${s3.bucket}.s3.amazonaws.com`];
}
