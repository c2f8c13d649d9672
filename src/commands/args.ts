export class UsageError extends Error {}

export interface ParsedArgs {
  positional: string[];
  option(name: string): string | undefined;
  flag(name: string): boolean;
}

/** `--name value`, `--name=value` and bare `--flag`; everything else is positional. */
export function parseArgs(argv: string[]): ParsedArgs {
  const positional: string[] = [];
  const options = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    // Short options take a value: `-o FILE`.
    if (/^-[a-z]$/i.test(arg) && i + 1 < argv.length) {
      options.set(arg.slice(1), argv[++i]);
      continue;
    }
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    if (eq > 0) options.set(arg.slice(2, eq), arg.slice(eq + 1));
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) options.set(arg.slice(2), argv[++i]);
    else options.set(arg.slice(2), true);
  }
  return {
    positional,
    option: (name) => {
      const value = options.get(name);
      return typeof value === 'string' ? value : undefined;
    },
    flag: (name) => options.has(name),
  };
}
