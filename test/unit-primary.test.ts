/**
 * Which dataset link is a revision's primary after an attach (planAttach): the rule users see as
 * "exactly one primary among a revision's active links, the first link is it, a new file of the
 * same name replaces the old one". Applied here to plain lists as the service applies it in a
 * transaction, so every case is about the revision that results.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type ActiveLink, planAttach } from '../src/modules/datasets/primary.js';
import { firstPassOnly } from './helpers/ci-pass.js';

const link = (id: string, filename: string, is_primary = false): ActiveLink => ({ id, upload_id: `upload-${id}`, filename, is_primary });

/**
 * The revision's active links after the attach, newest first, as the service leaves them: superseded
 * links go inactive, a new primary demotes the others, else the planned promotion happens.
 */
function attach(active: ActiveLink[], filename: string, wantPrimary?: boolean): { links: ActiveLink[]; superseded: string[] } {
  const plan = planAttach(active, filename, wantPrimary);
  const kept = active
    .filter((l) => !plan.superseded.includes(l.id))
    .map((l) => ({ ...l, is_primary: plan.newIsPrimary ? false : l.is_primary || l.id === plan.promote }));
  return { links: [link('new', filename, plan.newIsPrimary), ...kept], superseded: plan.superseded };
}

const primaryOf = (links: ActiveLink[]) => {
  const primaries = links.filter((l) => l.is_primary);
  assert.equal(primaries.length, 1, `exactly one primary among ${JSON.stringify(links)}`);
  return primaries[0].id;
};

describe('planAttach: the first link', { skip: firstPassOnly }, () => {
  for (const wantPrimary of [undefined, true, false]) {
    it(`is the primary whatever was asked (is_primary: ${wantPrimary})`, () => {
      assert.deepEqual(planAttach([], 'bracket.step', wantPrimary), { superseded: [], newIsPrimary: true, promote: null });
    });
  }
});

describe('planAttach: another file', { skip: firstPassOnly }, () => {
  // Newest first, as the service reads them.
  const revision = [link('c', 'c.pdf'), link('b', 'b.step', true), link('a', 'a.dxf')];

  it('leaves the primary where it is unless asked', () => {
    const plan = planAttach(revision, 'd.stl', undefined);
    assert.deepEqual(plan, { superseded: [], newIsPrimary: false, promote: null });
    assert.equal(primaryOf(attach(revision, 'd.stl').links), 'b');
  });

  it('leaves the primary where it is when asked not to take it', () => {
    assert.deepEqual(planAttach(revision, 'd.stl', false), { superseded: [], newIsPrimary: false, promote: null });
  });

  it('takes the primary when asked, and the old primary is demoted', () => {
    assert.deepEqual(planAttach(revision, 'd.stl', true), { superseded: [], newIsPrimary: true, promote: null });
    const { links } = attach(revision, 'd.stl', true);
    assert.equal(primaryOf(links), 'new');
    assert.equal(links.length, 4, 'nothing superseded');
  });
});

describe('planAttach: a file of the same name', { skip: firstPassOnly }, () => {
  it('supersedes the active link showing that name, and only that one', () => {
    const revision = [link('c', 'c.pdf', true), link('b', 'bracket.step'), link('a', 'a.dxf')];
    const plan = planAttach(revision, 'bracket.step', undefined);
    assert.deepEqual(plan.superseded, ['b']);
    assert.equal(plan.newIsPrimary, false, 'the primary was another file');
    assert.equal(primaryOf(attach(revision, 'bracket.step').links), 'c');
  });

  it('compares names exactly: another case or another extension is another file', () => {
    const revision = [link('a', 'Bracket.step', true)];
    assert.deepEqual(planAttach(revision, 'bracket.step', undefined).superseded, []);
    assert.deepEqual(planAttach(revision, 'Bracket.stp', undefined).superseded, []);
    assert.deepEqual(planAttach(revision, 'Bracket.step', undefined).superseded, ['a']);
  });

  it('replacing the primary file makes the new version the primary', () => {
    const revision = [link('b', 'b.pdf'), link('a', 'bracket.step', true)];
    assert.deepEqual(planAttach(revision, 'bracket.step', undefined), { superseded: ['a'], newIsPrimary: true, promote: null });
  });

  it('replacing the primary file while refusing the primary hands it to the newest remaining link', () => {
    const revision = [link('c', 'c.pdf'), link('b', 'bracket.step', true), link('a', 'a.dxf')];
    assert.deepEqual(planAttach(revision, 'bracket.step', false), { superseded: ['b'], newIsPrimary: false, promote: 'c' });
    assert.equal(primaryOf(attach(revision, 'bracket.step', false).links), 'c');
  });

  it('replacing the only link makes the new one primary even when asked not to be', () => {
    const revision = [link('a', 'bracket.step', true)];
    assert.deepEqual(planAttach(revision, 'bracket.step', false), { superseded: ['a'], newIsPrimary: true, promote: null });
  });
});

describe('planAttach: properties over any revision', { skip: firstPassOnly }, () => {
  // Few names, so that same-name attaches (supersede) come up often.
  const filename = fc.constantFrom('a.step', 'b.pdf', 'c.stl', 'd.dxf', 'e.txt');
  /** A revision as the service keeps it: active links newest first, exactly one primary when there are any. */
  const revision = fc
    .uniqueArray(filename, { maxLength: 5 })
    .chain((names) => fc.tuple(fc.constant(names), fc.nat({ max: Math.max(0, names.length - 1) })))
    .map(([names, primary]) => names.map((name, i) => link(`l${i}`, name, i === primary)));
  const wish = fc.constantFrom(undefined, true, false);

  it('after any attach the revision has exactly one primary among its active links', () => {
    fc.assert(
      fc.property(revision, filename, wish, (active, name, wantPrimary) => {
        primaryOf(attach(active, name, wantPrimary).links);
      }),
    );
  });

  it('supersedes exactly the active links of the same name, and the new link stays active', () => {
    fc.assert(
      fc.property(revision, filename, wish, (active, name, wantPrimary) => {
        const { links, superseded } = attach(active, name, wantPrimary);
        assert.deepEqual(
          superseded,
          active.filter((l) => l.filename === name).map((l) => l.id),
        );
        assert.equal(links.filter((l) => l.filename === name).length, 1, 'one active link per name');
        assert.equal(links[0].id, 'new');
      }),
    );
  });

  it('is_primary: true always makes the new link primary; false never does while another link remains', () => {
    fc.assert(
      fc.property(revision, filename, (active, name) => {
        assert.equal(primaryOf(attach(active, name, true).links), 'new');
        const { links } = attach(active, name, false);
        if (links.length > 1) assert.notEqual(primaryOf(links), 'new');
      }),
    );
  });

  it('an attach that does not replace the primary file and is not asked to leaves the primary alone', () => {
    fc.assert(
      fc.property(revision, filename, fc.constantFrom(undefined, false), (active, name, wantPrimary) => {
        const before = active.find((l) => l.is_primary);
        fc.pre(before !== undefined && before.filename !== name);
        assert.equal(primaryOf(attach(active, name, wantPrimary).links), before!.id);
      }),
    );
  });

  it('promotes only when the primary was superseded and the new link is not it, and then the newest remaining link', () => {
    fc.assert(
      fc.property(revision, filename, wish, (active, name, wantPrimary) => {
        const plan = planAttach(active, name, wantPrimary);
        if (plan.promote === null) return;
        assert.equal(plan.newIsPrimary, false);
        assert.ok(
          active.some((l) => l.is_primary && plan.superseded.includes(l.id)),
          'the primary was superseded',
        );
        assert.equal(plan.promote, active.find((l) => l.filename !== name)!.id, 'the newest remaining link');
      }),
    );
  });
});
