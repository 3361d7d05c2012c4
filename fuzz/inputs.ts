// Input number k of the fuzzer: a seed text and 1 to 3 mutations, all drawn from k.
import { mutate, rng, seedTexts } from './mutate.js';

let seeds: { file: string; text: string }[] | undefined;

export function fuzzInput(root: string, k: number): { text: string; file: string } {
  seeds ??= seedTexts(root);
  const r = rng(k * 2654435761);
  const s = seeds[Math.floor(r() * seeds.length)];
  let text = s.text;
  const depth = 1 + Math.floor(r() * 3);
  for (let i = 0; i < depth; i++) text = mutate(text, r);
  return { text, file: s.file };
}
