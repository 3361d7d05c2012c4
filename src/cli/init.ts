// `flowc init NAME`: write NAME.flow, a commented starter spec that runs as
// is. Its data are drawn from distributions, so it needs no other file.

import fs from 'node:fs';
import path from 'node:path';
import { error, FlowError } from '../compiler/diagnostics.js';

/** A flow name from a file name: letters, digits and _, not starting with a digit. */
export function flowName(file: string): string {
  const base = path.basename(file, '.flow').replace(/[^\p{L}\p{N}_]/gu, '_');
  return /^\p{L}|^_/u.test(base) ? base : `flow_${base}`;
}

/** The starter spec of flow `name`, saved as `file`. */
export function starterSpec(name: string, file: string): string {
  return `flow ${name} "A Gaussian blob flows onto three modes (MMD gradient flow)"

# A starter spec written by \`flowc init\`. Run it with
#   flowc run ${path.basename(file)} --plot --report
# and open runs/${name}/report.html. The language: docs/language.md.

# Constants; override any of them with --set, e.g. --set sigma=0.3
let sigma = 0.5                 # kernel bandwidth
let gamma = 0.2                 # step size
seed 1                          # every random draw follows from the seed

# The evolving measure: 200 particles in the plane, drawn at random.
particles mu in R^2: 200 ~ normal([0, 0], 1)

# The target: a fixed sample from a mixture of three Gaussians.
# For your own data: sample nu in R^2 from "target.csv"
sample nu in R^2: 300 ~ mixture([1, 1, 1],
                                normal([ 2,  0  ], 0.2),
                                normal([-1,  1.7], 0.2),
                                normal([-1, -1.7], 0.2))

# A Gaussian kernel; any function of two points works.
kernel k(x, y) = exp(-|x - y|^2 / (2 * sigma^2))

# The functional to decrease: half the squared MMD between mu and nu.
# flowc derives the particle velocity from it symbolically.
energy F = 1/2 * mmd2(mu, nu; k)

# Wasserstein-2 gradient flow, explicit Euler steps.
metric W2
scheme euler(step = gamma, steps = 200)

# What to save: the energy, the second moment, and the particles' positions.
record every 10: F, m2 = E[x ~ mu] |x|^2, positions(mu), positions(nu)
`;
}

/** Write NAME.flow (".flow" added when missing); never overwrites. Returns the file written. */
export function initSpec(name: string): string {
  const file = name.endsWith('.flow') ? name : `${name}.flow`;
  try {
    fs.writeFileSync(file, starterSpec(flowName(file), file), { flag: 'wx' });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FlowError(error(file, undefined, code === 'EEXIST' ? 'already exists; flowc init never overwrites a file' : `cannot write: ${(e as Error).message}`));
  }
  return file;
}
