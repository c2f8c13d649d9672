/**
 * A PUT's rules for properties and relationships (merge.ts), as the SPEC states them: objects merge
 * recursively, arrays and scalars replace, `properties_remove` in both forms, relationships upsert by
 * (predicate, peer), the `collection` shortcut, the size caps, and the server-set names refused.
 * Every function must leave its inputs as they were: they are the previous version, already hashed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AppError } from '../src/errors.js';
import {
  applyPropertyChanges,
  applyRelationships,
  checkPropertiesSize,
  checkRelationshipsCount,
  collectionRelationship,
  deepMerge,
  initialRelationships,
  type JsonObject,
  MAX_PROPERTIES_BYTES,
  MAX_RELATIONSHIPS,
  propertiesTooLarge,
  propertyChangeProblems,
  type Relationship,
  RESERVED_PROPERTIES,
  removeProperties,
  tooManyRelationships,
} from '../src/modules/files/merge.js';
import { firstPassOnly } from './helpers/ci-pass.js';

/** JSON objects as a request body brings them (plain prototypes, no undefined). */
const jsonObject = (maxDepth = 3): fc.Arbitrary<JsonObject> =>
  fc
    .dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth }), { maxKeys: 6, noNullPrototype: true })
    .map((o) => JSON.parse(JSON.stringify(o)) as JsonObject);

/** Objects over a small key alphabet, so base and patch share keys and nest into each other. */
const overlapping: fc.Arbitrary<JsonObject> = fc.letrec<{ obj: JsonObject; value: unknown }>((tie) => ({
  obj: fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd'), tie('value'), { maxKeys: 4, noNullPrototype: true }),
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(null, true, 0, 1.5, 'x'),
    fc.array(fc.integer(), { maxLength: 2 }),
    tie('obj'),
  ),
})).obj;

const isObject = (v: unknown): v is JsonObject => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Every path to a value that is not a non-empty object, with that value. */
function leaves(obj: JsonObject, prefix: string[] = []): [string[], unknown][] {
  return Object.entries(obj).flatMap(([key, value]) =>
    isObject(value) && Object.keys(value).length ? leaves(value, [...prefix, key]) : [[[...prefix, key], value] as [string[], unknown]],
  );
}

const at = (obj: unknown, path: string[]): unknown =>
  path.reduce<unknown>((o, k) => (isObject(o) && Object.hasOwn(o, k) ? o[k] : undefined), obj);

/** Runs `fn` and checks it left every argument as it was. */
function untouched<T>(args: unknown[], fn: () => T): T {
  const before = structuredClone(args);
  const result = fn();
  assert.deepEqual(args, before, 'an input was changed');
  return result;
}

describe('deepMerge', { skip: firstPassOnly }, () => {
  it('merges objects recursively, replaces arrays and scalars (the SPEC examples)', () => {
    const cases: [string, JsonObject, JsonObject, JsonObject][] = [
      ['new key added', { a: 1 }, { b: 2 }, { a: 1, b: 2 }],
      ['scalar replaced', { a: 1 }, { a: 'one' }, { a: 'one' }],
      ['objects merge', { config: { retries: 3, mode: 'fast' } }, { config: { mode: 'safe' } }, { config: { retries: 3, mode: 'safe' } }],
      [
        'deep objects merge',
        { config: { options: { debug: true, level: 2 } } },
        { config: { options: { level: 3 }, name: 'x' } },
        { config: { options: { debug: true, level: 3 }, name: 'x' } },
      ],
      ['arrays replace, never concatenate', { tags: ['a', 'b'] }, { tags: ['c'] }, { tags: ['c'] }],
      ['an array replaces an object', { config: { a: 1 } }, { config: [1] }, { config: [1] }],
      ['an object replaces a scalar', { config: 'none' }, { config: { a: 1 } }, { config: { a: 1 } }],
      ['a scalar replaces an object', { config: { a: 1 } }, { config: 0 }, { config: 0 }],
      ['null is a value that replaces', { a: { b: 1 }, c: 2 }, { a: null, c: null }, { a: null, c: null }],
      ['null is stored when new', {}, { gone: null }, { gone: null }],
      ['an empty object merges nothing', { config: { a: 1 } }, { config: {} }, { config: { a: 1 } }],
      ['an empty object is set when new', {}, { config: {} }, { config: {} }],
      ['objects inside arrays do not merge', { list: [{ a: 1 }] }, { list: [{ b: 2 }] }, { list: [{ b: 2 }] }],
    ];
    for (const [what, base, patch, expected] of cases) {
      assert.deepEqual(
        untouched([base, patch], () => deepMerge(base, patch)),
        expected,
        what,
      );
    }
  });

  it('skips undefined members rather than store or hash them', () => {
    assert.deepEqual(deepMerge({ a: 1 }, { a: undefined, b: { c: undefined } }), { a: 1, b: {} });
  });

  it('keeps a "__proto__" key as data, never as a prototype', () => {
    const patch = JSON.parse('{"__proto__": {"polluted": true}, "config": {"__proto__": {"x": 1}}}') as JsonObject;
    const merged = deepMerge({ config: { a: 1 } }, patch);
    assert.equal(Object.getPrototypeOf(merged), Object.prototype);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.deepEqual(Object.keys(merged), ['config', '__proto__']);
    assert.deepEqual(
      JSON.parse(JSON.stringify(merged)),
      JSON.parse('{"config": {"a": 1, "__proto__": {"x": 1}}, "__proto__": {"polluted": true}}'),
    );
  });

  it('returns a value sharing nothing with its inputs', () => {
    const base = { keep: { deep: [1] } };
    const patch = { list: [{ a: 1 }], obj: { b: { c: 1 } } };
    const merged = deepMerge(base, patch) as { keep: { deep: number[] }; list: { a: number }[]; obj: { b: { c: number } } };
    merged.keep.deep.push(2);
    merged.list[0].a = 9;
    merged.obj.b.c = 9;
    assert.deepEqual(base, { keep: { deep: [1] } });
    assert.deepEqual(patch, { list: [{ a: 1 }], obj: { b: { c: 1 } } });
  });

  it('merging {} is the identity, and into {} copies the patch', () => {
    fc.assert(
      fc.property(jsonObject(), (obj) => {
        assert.deepEqual(
          untouched([obj], () => deepMerge(obj, {})),
          obj,
        );
        assert.deepEqual(
          untouched([obj], () => deepMerge({}, obj)),
          obj,
        );
      }),
    );
  });

  it('the result holds every leaf of the patch, and every base leaf the patch does not cover', () => {
    fc.assert(
      fc.property(overlapping, overlapping, (base, patch) => {
        const merged = untouched([base, patch], () => deepMerge(base, patch));
        for (const [path, value] of leaves(patch)) {
          if (isObject(value)) assert.ok(isObject(at(merged, path)), `${path.join('.')} is an object`);
          else assert.deepEqual(at(merged, path), value, path.join('.'));
        }
        for (const [path, value] of leaves(base)) {
          const covered = path.some((_, i) => {
            const p = at(patch, path.slice(0, i + 1));
            return p !== undefined && !(isObject(p) && i < path.length - 1);
          });
          if (!covered) assert.deepEqual(at(merged, path), value, `${path.join('.')} kept`);
        }
      }),
    );
  });

  it('is idempotent: the same patch twice is the same patch once', () => {
    fc.assert(
      fc.property(overlapping, overlapping, (base, patch) => {
        const once = deepMerge(base, patch);
        assert.deepEqual(deepMerge(once, patch), once);
      }),
    );
  });
});

describe('removeProperties', { skip: firstPassOnly }, () => {
  const props = {
    old: 1,
    keep: 2,
    config: { options: { debug: true, level: 3 }, name: 'x' },
    tags: ['a'],
  };

  it('takes top-level names and nested objects of names (the SPEC examples)', () => {
    const cases: [string, Parameters<typeof removeProperties>[1], JsonObject][] = [
      ['top-level names', ['old'], { keep: 2, config: props.config, tags: ['a'] }],
      ['several names', ['old', 'keep', 'tags'], { config: props.config }],
      ['a nested name', { config: { options: ['debug'] } }, { old: 1, keep: 2, config: { options: { level: 3 }, name: 'x' }, tags: ['a'] }],
      ['names at a middle level', { config: ['options'] }, { old: 1, keep: 2, config: { name: 'x' }, tags: ['a'] }],
      ['an absent name is not an error', ['missing', 'old'], { keep: 2, config: props.config, tags: ['a'] }],
      ['an absent path is not an error', { nothing: { here: ['x'] } }, props],
      ['descending into a scalar removes nothing', { keep: ['x'] }, props],
      ['descending into an array removes nothing, even by index', { tags: ['0'] }, props],
      ['nothing to remove', [], props],
      ['an empty object', {}, props],
    ];
    for (const [what, remove, expected] of cases) {
      assert.deepEqual(
        untouched([props, remove], () => removeProperties(props, remove)),
        expected,
        what,
      );
    }
  });

  it('a removed name is gone, whatever was merged in before', () => {
    fc.assert(
      fc.property(jsonObject(), fc.string({ maxLength: 4 }), fc.jsonValue(), (base, name, value) => {
        const merged = deepMerge(base, { [name]: value });
        const removed = removeProperties(merged, [name]);
        assert.equal(Object.hasOwn(removed, name), false);
      }),
    );
  });
});

describe('applyPropertyChanges (one PUT)', { skip: firstPassOnly }, () => {
  it('removes first, then merges: removing and setting a key replaces it wholesale', () => {
    const base = { config: { a: 1, b: 2 }, other: true };
    const change = { properties_remove: ['config'], properties: { config: { c: 3 } } };
    assert.deepEqual(
      untouched([base, change], () => applyPropertyChanges(base, change)),
      { config: { c: 3 }, other: true },
    );
    assert.deepEqual(applyPropertyChanges(base, { properties: { config: { c: 3 } } }), { config: { a: 1, b: 2, c: 3 }, other: true });
    assert.deepEqual(applyPropertyChanges(base, {}), base);
  });

  it('whatever is set in the same request survives the removal, and nothing else removed comes back', () => {
    fc.assert(
      fc.property(overlapping, overlapping, fc.uniqueArray(fc.constantFrom('a', 'b', 'c', 'd')), (base, properties, names) => {
        const result = untouched([base, properties, names], () => applyPropertyChanges(base, { properties, properties_remove: names }));
        for (const name of names) {
          if (Object.hasOwn(properties, name)) assert.deepEqual(result[name], properties[name]);
          else assert.equal(Object.hasOwn(result, name), false);
        }
      }),
    );
  });
});

describe('propertyChangeProblems', { skip: firstPassOnly }, () => {
  it('names each server-set property sent in properties, with the field that sets it', () => {
    const problems = propertyChangeProblems({ properties: { label: 'x', size: 3, key: 'k', free: 1, meta: { size: 3 } } });
    assert.deepEqual(
      problems.map((p) => p.path),
      ['body.properties.label', 'body.properties.size', 'body.properties.key'],
    );
    assert.match(problems[0].message, /`label` field/);
    assert.match(problems[1].message, /reupload/);
  });

  it('names server-set properties in properties_remove, in both forms', () => {
    assert.deepEqual(propertyChangeProblems({ properties_remove: ['old', 'sha256', 'label'] }), [
      { path: 'body.properties_remove[1]', message: 'sha256 comes from the content: send new content with reupload; it cannot be removed' },
      { path: 'body.properties_remove[2]', message: 'label is set by the `label` field; it cannot be removed' },
    ]);
    assert.deepEqual(
      propertyChangeProblems({ properties_remove: { content_cid: ['x'], config: { size: ['y'] } } }).map((p) => p.path),
      ['body.properties_remove.content_cid'],
    );
  });

  it('refuses every reserved name and no other', () => {
    for (const name of RESERVED_PROPERTIES) {
      assert.equal(propertyChangeProblems({ properties: { [name]: 1 } }).length, 1, name);
      assert.equal(propertyChangeProblems({ properties_remove: [name] }).length, 1, name);
    }
    assert.deepEqual(RESERVED_PROPERTIES, ['label', 'description', 'filename', 'content_type', 'size', 'sha256', 'content_cid', 'key']);
    assert.deepEqual(propertyChangeProblems({ properties: { Label: 1, labels: 2 }, properties_remove: ['Size'] }), []);
  });

  it('says where properties_remove is not a list of names or an object of them', () => {
    const cases: [unknown, string[]][] = [
      ['old', ['body.properties_remove']],
      [null, ['body.properties_remove']],
      [['old', 3], ['body.properties_remove[1]']],
      [{ config: 'debug' }, ['body.properties_remove.config']],
      [{ config: { options: [null, 'ok'] } }, ['body.properties_remove.config.options[0]']],
      [{ config: { options: ['debug'] } }, []],
    ];
    for (const [value, paths] of cases) {
      assert.deepEqual(
        propertyChangeProblems({ properties_remove: value }).map((p) => p.path),
        paths,
        JSON.stringify(value),
      );
    }
    assert.deepEqual(
      propertyChangeProblems({ properties: [1] }, 'payload').map((p) => p.path),
      ['payload.properties'],
    );
  });
});

describe('relationships', { skip: firstPassOnly }, () => {
  const crew: Relationship = { predicate: 'crew', peer: 'ahab', peer_type: 'person' };
  const ship: Relationship = { predicate: 'aboard', peer: 'pequod', peer_type: 'vessel' };

  it('add upserts by (predicate, peer): peer_type updated in place, new ones appended', () => {
    const list = [crew, ship];
    const add = [
      { predicate: 'crew', peer: 'ahab', peer_type: 'captain' },
      { predicate: 'crew', peer: 'ishmael', peer_type: 'person' },
      { predicate: 'aboard', peer: 'ahab' },
    ];
    assert.deepEqual(
      untouched([list, add], () => applyRelationships(list, { add })),
      [{ ...crew, peer_type: 'captain' }, ship, add[1], { predicate: 'aboard', peer: 'ahab', peer_type: null }],
    );
  });

  it('an upsert without peer_type keeps the one there; with null clears it', () => {
    assert.deepEqual(applyRelationships([crew], { add: [{ predicate: 'crew', peer: 'ahab' }] }), [crew]);
    assert.deepEqual(applyRelationships([crew], { add: [{ predicate: 'crew', peer: 'ahab', peer_type: null }] }), [
      { ...crew, peer_type: null },
    ]);
  });

  it('remove matches (predicate, peer) with or without peer_type; an absent one is not an error', () => {
    assert.deepEqual(applyRelationships([crew, ship], { remove: [{ predicate: 'crew', peer: 'ahab' }] }), [ship]);
    assert.deepEqual(applyRelationships([crew, ship], { remove: [{ predicate: 'crew', peer: 'ahab', peer_type: 'whatever' }] }), [ship]);
    assert.deepEqual(applyRelationships([crew, ship], { remove: [{ predicate: 'crew', peer: 'pequod' }] }), [crew, ship]);
  });

  it('removes first, then adds: the same entry in both ends present, at the end', () => {
    assert.deepEqual(applyRelationships([crew, ship], { remove: [crew], add: [crew] }), [ship, crew]);
  });

  it('duplicates in one add: the last peer_type wins', () => {
    const add = [
      { predicate: 'crew', peer: 'ahab', peer_type: 'a' },
      { predicate: 'crew', peer: 'ahab', peer_type: 'b' },
    ];
    assert.deepEqual(applyRelationships([], { add }), [{ predicate: 'crew', peer: 'ahab', peer_type: 'b' }]);
  });

  it('the collection shortcut', () => {
    assert.deepEqual(collectionRelationship('01KDETYWYWM0MJVKM8DK3AEXPY'), {
      predicate: 'collection',
      peer: '01KDETYWYWM0MJVKM8DK3AEXPY',
      peer_type: 'collection',
    });
    assert.deepEqual(initialRelationships([crew], 'archive'), [crew, collectionRelationship('archive')]);
    assert.deepEqual(initialRelationships([{ predicate: 'collection', peer: 'archive' }], 'archive'), [collectionRelationship('archive')]);
    assert.deepEqual(initialRelationships(), []);
  });

  it('never holds two entries with the same (predicate, peer), whatever is added and removed', () => {
    const entry = fc.record(
      {
        predicate: fc.constantFrom('crew', 'aboard', 'collection'),
        peer: fc.constantFrom('a', 'b', 'c'),
        peer_type: fc.option(fc.constantFrom('x', 'y')),
      },
      { requiredKeys: ['predicate', 'peer'], noNullPrototype: true },
    );
    fc.assert(
      fc.property(
        fc.array(entry, { maxLength: 8 }),
        fc.array(
          fc.record({ add: fc.array(entry, { maxLength: 5 }), remove: fc.array(entry, { maxLength: 3 }) }, { noNullPrototype: true }),
          { maxLength: 4 },
        ),
        (start, steps) => {
          let list = applyRelationships([], { add: start });
          for (const step of steps) {
            const before = list;
            list = untouched([before, step], () => applyRelationships(before, step));
            const keys = list.map((r) => `${r.predicate} ${r.peer}`);
            assert.equal(new Set(keys).size, keys.length, 'no duplicates');
            for (const r of step.add) assert.ok(keys.includes(`${r.predicate} ${r.peer}`), 'every added entry is there');
            for (const r of step.remove) {
              const readded = step.add.some((a) => a.predicate === r.predicate && a.peer === r.peer);
              if (!readded) assert.ok(!keys.includes(`${r.predicate} ${r.peer}`), 'a removed entry is gone');
            }
            const kept = before.filter(
              (r) =>
                keys.includes(`${r.predicate} ${r.peer}`) && !step.remove.some((x) => x.predicate === r.predicate && x.peer === r.peer),
            );
            assert.deepEqual(
              kept.map((r) => `${r.predicate} ${r.peer}`),
              keys.slice(0, kept.length),
              'entries kept stay first, in their order',
            );
            for (const r of list) assert.deepEqual(Object.keys(r), ['predicate', 'peer', 'peer_type']);
          }
        },
      ),
    );
  });

  it('counts against the cap', () => {
    const many = Array.from({ length: MAX_RELATIONSHIPS + 1 }, (_, i) => ({ predicate: 'has', peer: String(i), peer_type: null }));
    assert.equal(checkRelationshipsCount(many.slice(0, MAX_RELATIONSHIPS)), null);
    const over = checkRelationshipsCount(many);
    assert.deepEqual(over, { count: MAX_RELATIONSHIPS + 1, limit: MAX_RELATIONSHIPS });
    const error = tooManyRelationships(over!);
    assert.ok(error instanceof AppError);
    assert.equal(error.status, 413);
    assert.equal(error.code, 'payload_too_large');
  });
});

describe('checkPropertiesSize', { skip: firstPassOnly }, () => {
  it('measures UTF-8 bytes of the JSON, up to and including the cap', () => {
    const filler = (bytes: number) => ({ text: 'x'.repeat(bytes - '{"text":""}'.length) });
    assert.equal(checkPropertiesSize(filler(MAX_PROPERTIES_BYTES)), null);
    assert.deepEqual(checkPropertiesSize(filler(MAX_PROPERTIES_BYTES + 1)), {
      size_bytes: MAX_PROPERTIES_BYTES + 1,
      limit_bytes: MAX_PROPERTIES_BYTES,
    });
    // 'é' is one UTF-16 unit and two UTF-8 bytes: the cap is on bytes.
    const accents = { text: 'é'.repeat(MAX_PROPERTIES_BYTES / 2) };
    assert.ok(JSON.stringify(accents).length < MAX_PROPERTIES_BYTES);
    assert.ok(checkPropertiesSize(accents));
    assert.equal(checkPropertiesSize({ a: 1 }, 7), null);
    assert.deepEqual(checkPropertiesSize({ a: 1 }, 6), { size_bytes: 7, limit_bytes: 6 });
  });

  it('answers a 413 payload_too_large naming the properties', () => {
    const error = propertiesTooLarge({ size_bytes: 70000, limit_bytes: MAX_PROPERTIES_BYTES });
    assert.ok(error instanceof AppError);
    assert.equal(error.status, 413);
    assert.equal(error.code, 'payload_too_large');
    assert.deepEqual(error.details, { path: 'body.properties', size_bytes: 70000, limit_bytes: MAX_PROPERTIES_BYTES });
    assert.match(error.message, /70000 bytes/);
  });
});
