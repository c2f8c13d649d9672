import cliProgress from 'cli-progress';

export interface Progress {
  /** `start`: bytes done before this run (a resumed transfer); the rate counts only what comes after. */
  bar(label: string, total: number, start?: number): { add(n: number): void; done(): void };
  stop(): void;
}

/** Bars with rate and ETA on a terminal; silence otherwise (CI logs want the result, not redraws). */
export function createProgress(enabled = Boolean(process.stderr.isTTY)): Progress {
  if (!enabled) return { bar: () => ({ add: () => {}, done: () => {} }), stop: () => {} };
  const multi = new cliProgress.MultiBar(
    {
      stream: process.stderr,
      format: ' {label} |{bar}| {percentage}% | {value_h}/{total_h} | {speed} | ETA {eta_formatted}',
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  return {
    bar(label, total, start = 0) {
      const started = Date.now();
      let value = start;
      const fields = () => ({
        label: label.padEnd(24).slice(0, 24),
        value_h: human(value),
        total_h: human(total),
        speed: `${human((value - start) / Math.max(0.001, (Date.now() - started) / 1000))}/s`,
      });
      const bar = multi.create(Math.max(total, 1), value, fields());
      return {
        add(n) {
          value += n;
          bar.update(value, fields());
        },
        done() {
          bar.update(Math.max(total, 1), fields());
        },
      };
    },
    stop: () => multi.stop(),
  };
}

export function human(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** "16MiB", "5M", "1048576" → bytes. */
export function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(text.trim());
  if (!match) throw new Error(`not a size: "${text}" (try 16MiB)`);
  const power = ' kmgt'.indexOf(match[2].toLowerCase() || ' ');
  return Math.round(Number(match[1]) * 1024 ** power);
}
