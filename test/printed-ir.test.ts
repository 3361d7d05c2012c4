// Pinned printed IR: the readable IR (energy, first variation, velocity) and
// the plan (stages and their reductions) of the three reference specs, as
// printed by src/compiler/emit.ts (irText, planText), are compared with the
// files in test/printed-ir/. A change of the compiler that changes what it
// derives or how it schedules shows up here as a diff to review.
//
// Numbers are rounded to 12 significant digits and whitespace is normalised
// before comparing, so only meaningful changes count.
//
// To accept a change, regenerate the pinned files and review the diff:
//   UPDATE_IR=1 npx vitest run test/printed-ir.test.ts
//   git diff test/printed-ir/

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileOrThrow } from '../src/api.js';
import { irText, planText } from '../src/compiler/emit.js';
import { REFERENCE, ROOT } from './helpers.js';

const PINNED = path.join(ROOT, 'test', 'printed-ir');
const UPDATE = process.env.UPDATE_IR === '1';
const SPECS = ['mmd-three-modes', 'potential-interaction', 'relu-teacher'];
/** specs of specs/ whose plans have parts the reference ones lack: weighted reductions (WFR), dab's product program */
const OWN_SPECS = ['mmd-wfr-unbalanced', 'mmd-dab-particles'];

/** Round every number to 12 significant digits; trim and collapse whitespace. */
function normalise(text: string): string {
  return (
    text
      .replace(/\r\n?/g, '\n')
      .replace(/(?<![\w.])\d+(?:\.\d+)?(?:e[+-]?\d+)?(?![\w.])/gi, (m) => String(Number(Number(m).toPrecision(12))))
      .replace(/(\S)[ \t]+/g, '$1 ')
      .replace(/ +$/gm, '')
      .trimEnd() + '\n'
  );
}

function printed(name: string): { ir: string; plan: string } {
  const file = OWN_SPECS.includes(name) ? path.join(ROOT, 'specs', `${name}.flow`) : path.join(REFERENCE, name, 'spec.flow');
  if (!fs.existsSync(file)) throw new Error(`reference spec missing: ${file}`);
  const { compiled } = compileOrThrow(file);
  return { ir: normalise(irText(compiled)), plan: normalise(planText(compiled)) };
}

describe('printed IR and plan of the reference specs', () => {
  it('normalise rounds numbers, leaves names alone and collapses whitespace', () => {
    expect(normalise('a = 0.30000000000000004 * x00[1]  +  B12(j_mu)[0]   \r\n')).toBe('a = 0.3 * x00[1] + B12(j_mu)[0]\n');
    expect(normalise('1e-7 / 2.5000000000000001e+300')).toBe(`${1e-7} / ${2.5e300}\n`);
  });

  for (const name of [...SPECS, ...OWN_SPECS]) {
    it(`${name}: printing is deterministic`, () => {
      expect(printed(name)).toEqual(printed(name));
    });

    for (const kind of ['ir', 'plan'] as const) {
      it(`${name}: ${kind} matches test/printed-ir/${name}.${kind}.txt`, () => {
        const actual = printed(name)[kind];
        const file = path.join(PINNED, `${name}.${kind}.txt`);
        if (UPDATE) {
          fs.mkdirSync(PINNED, { recursive: true });
          fs.writeFileSync(file, actual);
        }
        if (!fs.existsSync(file))
          throw new Error(`no pinned output ${file}: create it with UPDATE_IR=1 npx vitest run test/printed-ir.test.ts`);
        const pinned = normalise(fs.readFileSync(file, 'utf8'));
        expect(actual, `printed ${kind} of ${name} changed; if intended, regenerate with UPDATE_IR=1 and review the diff`).toBe(pinned);
      });
    }
  }
});
