// The flow every bench times: one W2 explicit-Euler step of ½MMD² with a
// Gaussian kernel (sigma = 1, step 1), N particles ~ normal(0, 1) onto N
// target points ~ normal(1.5, 1) in R^d. One text, so the benches time the
// same step.

export function mmdStepSpec(name, N, d) {
  return [
    `flow ${name}`,
    'let sigma = 1',
    `particles mu in R^${d}: ${N} ~ normal(0, 1)`,
    `sample nu in R^${d}: ${N} ~ normal(1.5, 1)`,
    'kernel k(x, y) = exp(-|x - y|^2 / (2 * sigma^2))',
    'energy F = 1/2 * mmd2(mu, nu; k)',
    'metric W2',
    'scheme euler(step = 1, steps = 1)',
    'record every 1: F',
    '',
  ].join('\n');
}
