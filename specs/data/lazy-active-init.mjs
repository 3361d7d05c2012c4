// Writes lazy-active-init.csv: 100 neurons u = (w, theta) in R x R^10 for
// specs/lazy-active.flow. 50 neurons have w ~ N(0, 1) and theta uniform on
// the unit sphere; the other 50 are their mirror images (-w, theta), so the
// network's initial output is exactly 0 at every input. Lazy training's
// statement (Chizat–Bach: ||W(t) - W(0)|| = O(1/alpha)) assumes alpha h(W(0))
// stays bounded as alpha grows, which this symmetric start guarantees.
//   node specs/data/lazy-active-init.mjs > specs/data/lazy-active-init.csv
const d = 10, half = 50;
let s = 12345; // a fixed linear congruential generator: the file is reproducible
const rand = () => { s = (s * 1103515245 + 12345) % 2147483648; return (s + 0.5) / 2147483648; };
const normal = () => Math.sqrt(-2 * Math.log(rand())) * Math.cos(2 * Math.PI * rand());
const rows = [];
for (let i = 0; i < half; i++) {
  const theta = Array.from({ length: d }, normal);
  const r = Math.hypot(...theta);
  rows.push([normal(), ...theta.map((v) => v / r)]);
}
const all = [...rows, ...rows.map(([w, ...theta]) => [-w, ...theta])];
process.stdout.write(all.map((r) => r.join(',')).join('\n') + '\n');
