/**
 * The deployment files say what the code needs: the S3 policy in docs/production.md allows every S3
 * call the s3 driver makes, and the sample settings file names only settings the server reads, with
 * values it accepts. (The systemd unit itself is checked by systemd-analyze against an installed
 * package in test/package-install.test.ts.)
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../src/config.js';
import { firstPassOnly } from './helpers/ci-pass.js';

const root = path.resolve(import.meta.dirname, '..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');

/** The IAM action each S3 call needs (AWS's "Actions, resources, and condition keys for Amazon S3"). */
const ACTION_OF: Record<string, string> = {
  PutObject: 's3:PutObject',
  GetObject: 's3:GetObject',
  HeadObject: 's3:GetObject',
  DeleteObject: 's3:DeleteObject',
  ListObjects: 's3:ListBucket',
  ListObjectsV2: 's3:ListBucket',
  HeadBucket: 's3:ListBucket',
  CreateMultipartUpload: 's3:PutObject',
  UploadPart: 's3:PutObject',
  CompleteMultipartUpload: 's3:PutObject',
  AbortMultipartUpload: 's3:AbortMultipartUpload',
  ListParts: 's3:ListMultipartUploadParts',
  ListMultipartUploads: 's3:ListBucketMultipartUploads',
};
/** Calls the policy leaves out on purpose: the server creates its bucket only when allowed to. */
const OPTIONAL = new Set(['CreateBucket']);

describe('deployment files', { skip: firstPassOnly }, () => {
  it("docs/production.md's S3 policy allows every call the s3 driver makes", () => {
    const doc = read('docs/production.md');
    const json = /```json\n([\s\S]*?)```/.exec(doc);
    assert.ok(json, 'docs/production.md has the policy as a json block');
    const policy = JSON.parse(json[1]!) as { Statement: { Action: string[] }[] };
    const allowed = new Set(policy.Statement.flatMap((s) => s.Action));
    const blobs = path.join(root, 'src', 'blobs');
    const calls = new Set<string>();
    for (const file of readdirSync(blobs).filter((f) => f.startsWith('s3'))) {
      for (const [, name] of readFileSync(path.join(blobs, file), 'utf8').matchAll(/new (\w+)Command\(/g)) calls.add(name!);
    }
    assert.ok(calls.has('PutObject') && calls.has('UploadPart'), `the scan found the driver's calls: ${[...calls]}`);
    for (const call of calls) {
      if (OPTIONAL.has(call)) continue;
      const action = ACTION_OF[call];
      assert.ok(action, `the s3 driver calls ${call}: add the IAM action it needs to ACTION_OF and to docs/production.md`);
      assert.ok(allowed.has(action), `the driver calls ${call}, which needs ${action}: docs/production.md's policy lacks it`);
    }
  });

  it('deploy/stowage.env.example names only settings the server reads, and the server accepts it', () => {
    const sample = read('deploy/stowage.env.example');
    const config = read('src/config.ts');
    const lines = sample.split('\n').map((l) => /^#?\s*([A-Z][A-Z0-9_]+)=(.*)$/.exec(l.trim()));
    const settings = lines.filter((m): m is RegExpExecArray => m !== null);
    assert.ok(settings.length >= 10, 'the sample lists the main settings');
    for (const [, name] of settings) {
      assert.ok(config.includes(`'${name}'`), `${name} in deploy/stowage.env.example is not a setting src/config.ts reads`);
    }
    // Every line as written, the commented ones switched on too: values a user keeps must load.
    const env = Object.fromEntries(settings.map(([, name, value]) => [name!, value!]));
    assert.doesNotThrow(() => loadConfig({ ...env, STOWAGE_SIGNING_SECRET: 'a'.repeat(64) }));
  });
});
