/**
 * `.ci/run` runs the suite twice on the same checkout: on the embedded default, then on the machine's
 * PostgreSQL and a real S3 engine (it sets CI_SECOND_PASS=1 there). What depends on neither — the code's
 * shape and types, the embedded PostgreSQL itself, the local driver's own signed URLs, the HTTP layer's
 * timeouts, the CLI's command line, the SDK's generated types, the installed package, the console in a
 * browser — is checked in the first pass only, which keeps CI within its time budget; a skip message
 * says so.
 */
export const firstPassOnly: string | false =
  process.env.CI_SECOND_PASS === '1'
    ? "checked in CI's first pass, on this same checkout; the second pass is for the database and storage"
    : false;
