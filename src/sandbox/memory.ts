/**
 * Resident memory of a process, from Linux's /proc. RSS is what counts here: native memory (a WASM
 * heap like OpenCascade's, libvips, canvas, Buffers) lives outside V8's heap, so --max-old-space-size
 * alone does not bound it. Elsewhere than Linux there are no figures, and only the heap cap holds.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

export interface RssSample {
  rssMb: number;
  /** VmHWM, the kernel's high-water mark: a spike between two samples still shows in the next one. */
  peakMb: number;
}

/** Null when the process is gone, or /proc is not there. */
export async function sampleRss(pid: number): Promise<RssSample | null> {
  let status: string;
  try {
    status = await readFile(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const rss = statusKb(status, 'VmRSS');
  if (!Number.isFinite(rss)) return null; // a zombie has no memory lines left
  return { rssMb: rss / 1024, peakMb: Math.max(rss, statusKb(status, 'VmHWM') || 0) / 1024 };
}

/**
 * This process's own peak resident memory in MiB, null without /proc. VmHWM, not
 * process.resourceUsage().maxRSS: a forked process's maxRSS starts at its parent's resident size (the
 * kernel carries it across fork and exec), so in a 600 MB service every child would report 600 MB.
 * VmHWM belongs to the process's own memory, new at exec.
 */
export function ownPeakRssMb(): number | null {
  try {
    const peak = statusKb(readFileSync('/proc/self/status', 'utf8'), 'VmHWM');
    return Number.isFinite(peak) ? peak / 1024 : null;
  } catch {
    return null;
  }
}

function statusKb(status: string, field: string): number {
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
}

/**
 * Samples every intervalMs until stopped and calls onOver once when the peak passes limitMb. The
 * samples are chained, never overlapping, so a slow /proc read cannot pile up timers.
 */
export function watchRss(pid: number, limitMb: number, intervalMs: number, onOver: (peakMb: number) => void): { stop(): number } {
  let peakMb = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = async () => {
    const sample = await sampleRss(pid);
    if (stopped) return;
    if (sample) {
      peakMb = Math.max(peakMb, sample.peakMb);
      if (peakMb > limitMb) {
        stopped = true;
        onOver(peakMb);
        return;
      }
    }
    timer = setTimeout(tick, intervalMs);
  };
  void tick();
  return {
    /** Stops the sampling and returns the highest peak seen. */
    stop() {
      stopped = true;
      clearTimeout(timer);
      return peakMb;
    },
  };
}
