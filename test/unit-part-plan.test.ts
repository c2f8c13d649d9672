/**
 * How a direct multipart upload is cut (planParts): what POST /api/v1/uploads/multipart answers as
 * part_size and part_count. A client sends exactly that many parts of that size straight to storage,
 * so the plan must fit S3's limits (parts 5 MiB–5 GiB, at most 10,000 of them) for every size the
 * server accepts, and a plan that cannot must be a 422 naming the field.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MAX_PART_NUMBER, MIN_PART_BYTES } from '../src/blobs/multipart.js';
import { AppError } from '../src/errors.js';
import { planParts } from '../src/modules/uploads/part-plan.js';
import { firstPassOnly } from './helpers/ci-pass.js';

const MIB = 1024 ** 2;
const GIB = 1024 ** 3;
/** S3's largest part (AWS S3 multipart limits); multipart.ts states the floor and the count. */
const S3_MAX_PART_BYTES = 5 * GIB;
/** The default STOWAGE_MULTIPART_MAX_BYTES. */
const DEFAULT_MAX = 250 * GIB;
/** The largest file S3 can assemble at all. */
const S3_MAX_OBJECT = MAX_PART_NUMBER * S3_MAX_PART_BYTES;

/** Any whole number of bytes up to `max` (fc.integer stops at 2^31). */
const bytesUpTo = (max: number) => fc.bigInt({ min: 0n, max: BigInt(max) }).map(Number);

const plan = (size_bytes: number, part_size?: number | null, maxBytes = DEFAULT_MAX, name = 'bracket.step') =>
  planParts({ name, size_bytes, part_size }, maxBytes);

/** The 422 a plan throws, as the list of field paths it names. */
function refusal(run: () => unknown): { paths: string[]; messages: string[] } {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof AppError, `an AppError, not ${String(error)}`);
    assert.equal(error.status, 422);
    assert.equal(error.code, 'validation_error');
    const problems = error.details as { path: string; message: string }[];
    return { paths: problems.map((p) => p.path), messages: problems.map((p) => p.message) };
  }
  assert.fail('the plan was accepted');
}

/** A plan the client can carry out and storage can assemble into exactly `size` bytes. */
function assertWorkable(size: number, { partSize, partCount }: { partSize: number; partCount: number }) {
  assert.ok(partSize >= MIN_PART_BYTES, `part size ${partSize} under S3's 5 MiB floor`);
  assert.ok(partSize <= S3_MAX_PART_BYTES, `part size ${partSize} over S3's 5 GiB ceiling`);
  assert.ok(partCount >= 1 && partCount <= MAX_PART_NUMBER, `${partCount} parts`);
  assert.ok(partSize * partCount >= size, 'the parts hold the whole file');
  if (size > 0) assert.ok((partCount - 1) * partSize < size, 'the last part is not empty');
}

describe('planParts: the part size the server picks', { skip: firstPassOnly }, () => {
  it('is 16 MiB for files that fit 10,000 parts of it', () => {
    assert.deepEqual(plan(100 * MIB), { partSize: 16 * MIB, partCount: 7 });
    assert.deepEqual(plan(16 * MIB), { partSize: 16 * MIB, partCount: 1 });
    assert.deepEqual(plan(16 * MIB + 1), { partSize: 16 * MIB, partCount: 2 });
    assert.deepEqual(plan(MAX_PART_NUMBER * 16 * MIB), { partSize: 16 * MIB, partCount: MAX_PART_NUMBER });
  });

  it('grows by whole MiB past 10,000 × 16 MiB, to the smallest that keeps 10,000 parts', () => {
    assert.deepEqual(plan(MAX_PART_NUMBER * 16 * MIB + 1), {
      partSize: 17 * MIB,
      partCount: Math.ceil((MAX_PART_NUMBER * 16 * MIB + 1) / (17 * MIB)),
    });
  });

  it('fits a 250 GiB file (the default limit) in at most 10,000 parts: 26 MiB each', () => {
    const { partSize, partCount } = plan(DEFAULT_MAX);
    assert.equal(partSize, 26 * MIB);
    assert.equal(partCount, 9847);
    assertWorkable(DEFAULT_MAX, { partSize, partCount });
  });

  it('plans the largest file S3 can assemble: 10,000 parts of 5 GiB', () => {
    assert.deepEqual(plan(S3_MAX_OBJECT, undefined, S3_MAX_OBJECT), { partSize: S3_MAX_PART_BYTES, partCount: MAX_PART_NUMBER });
  });

  it('gives an empty or tiny file one part', () => {
    assert.deepEqual(plan(0), { partSize: 16 * MIB, partCount: 1 });
    assert.deepEqual(plan(1), { partSize: 16 * MIB, partCount: 1 });
  });

  it('treats part_size: null as not given', () => {
    assert.deepEqual(plan(100 * MIB, null), plan(100 * MIB));
  });

  it('is workable, a whole MiB, and the smallest such of at least 16 MiB, for any size up to the limit', () => {
    for (const maxBytes of [DEFAULT_MAX, S3_MAX_OBJECT]) {
      fc.assert(
        fc.property(bytesUpTo(maxBytes), (size) => {
          const chosen = plan(size, undefined, maxBytes);
          assertWorkable(size, chosen);
          assert.equal(chosen.partSize % MIB, 0, 'a whole MiB');
          if (chosen.partSize > 16 * MIB)
            assert.ok(Math.ceil(size / (chosen.partSize - MIB)) > MAX_PART_NUMBER, 'one MiB less would not fit');
        }),
      );
    }
  });
});

describe('planParts: a part size the client asks for', { skip: firstPassOnly }, () => {
  it('is kept when storage can take it, whole MiB or not', () => {
    assert.deepEqual(plan(100 * MIB, 5 * MIB), { partSize: 5 * MIB, partCount: 20 });
    assert.deepEqual(plan(100 * MIB, 5 * MIB + 1), { partSize: 5 * MIB + 1, partCount: 20 });
    assert.deepEqual(plan(20 * GIB, S3_MAX_PART_BYTES), { partSize: S3_MAX_PART_BYTES, partCount: 4 });
  });

  it('under 5 MiB, zero, or over 5 GiB is a 422 naming body.part_size', () => {
    for (const part_size of [MIN_PART_BYTES - 1, 0, -MIB, S3_MAX_PART_BYTES + 1]) {
      const { paths, messages } = refusal(() => plan(100 * MIB, part_size));
      assert.deepEqual(paths, ['body.part_size'], String(part_size));
      assert.match(messages[0], new RegExp(`${MIN_PART_BYTES}.*${S3_MAX_PART_BYTES}`), 'the message gives the bounds');
    }
  });

  it('that would need more than 10,000 parts is a 422 naming body.part_size and the smallest that works', () => {
    const size = 100 * GIB;
    const { paths, messages } = refusal(() => plan(size, MIN_PART_BYTES));
    assert.deepEqual(paths, ['body.part_size']);
    const smallest = Math.ceil(size / MAX_PART_NUMBER / MIB) * MIB;
    assert.match(messages[0], new RegExp(`at least ${smallest}\\b`));
    assert.deepEqual(plan(size, smallest), { partSize: smallest, partCount: Math.ceil(size / smallest) }, 'the size it names works');
  });

  it('is workable whenever it is accepted, and refused only when it could not be', () => {
    fc.assert(
      fc.property(bytesUpTo(DEFAULT_MAX), bytesUpTo(6 * GIB), (size, partSize) => {
        const fits = partSize >= MIN_PART_BYTES && partSize <= S3_MAX_PART_BYTES && Math.ceil(size / partSize) <= MAX_PART_NUMBER;
        if (fits) assertWorkable(size, plan(size, partSize));
        else assert.deepEqual(refusal(() => plan(size, partSize)).paths, ['body.part_size']);
      }),
    );
  });
});

describe('planParts: the file', { skip: firstPassOnly }, () => {
  it('over the multipart limit is a 422 naming body.size_bytes and the limit', () => {
    const { paths, messages } = refusal(() => plan(DEFAULT_MAX + 1));
    assert.deepEqual(paths, ['body.size_bytes']);
    assert.match(messages[0], new RegExp(String(DEFAULT_MAX)));
    assert.deepEqual(refusal(() => plan(10 * MIB, undefined, 10 * MIB - 1)).paths, ['body.size_bytes'], 'the limit is the one given');
  });

  it('named with a slash or backslash is a 422 naming body.name', () => {
    for (const name of ['a/b.step', 'a\\b.step', '../x']) {
      assert.deepEqual(refusal(() => plan(MIB, undefined, DEFAULT_MAX, name)).paths, ['body.name'], name);
    }
  });

  it('names every field that cannot work in one answer', () => {
    const { paths } = refusal(() => plan(DEFAULT_MAX + 1, MIB, DEFAULT_MAX, 'a/b'));
    assert.deepEqual(paths.sort(), ['body.name', 'body.part_size', 'body.size_bytes']);
  });
});
