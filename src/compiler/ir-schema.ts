// JSON Schema of the IR printed by `flowc compile --emit ir` (emit.ts).

const node = {
  oneOf: [
    { type: 'object', required: ['kind', 'value'], additionalProperties: false, properties: { kind: { const: 'num' }, value: { type: ['number', 'string'] } } },
    { type: 'object', required: ['kind', 'name', 'c'], additionalProperties: false, properties: { kind: { const: 'param' }, name: { type: 'string' }, c: { type: 'integer', minimum: 0 } } },
    { type: 'object', required: ['kind', 'v', 'c'], additionalProperties: false, properties: { kind: { const: 'var' }, v: { type: 'integer', minimum: 0 }, c: { type: 'integer', minimum: 0 } } },
    { type: 'object', required: ['kind', 'op', 'args'], additionalProperties: false, properties: { kind: { const: 'op' }, op: { type: 'string' }, args: { type: 'array', items: { type: 'integer', minimum: 0 } } } },
    { type: 'object', required: ['kind', 'measure', 'v', 'body'], additionalProperties: false, properties: { kind: { const: 'expect' }, measure: { type: 'string' }, v: { type: 'integer', minimum: 0 }, body: { type: 'integer', minimum: 0 } } },
    { type: 'object', required: ['kind', 'a', 'b', 'body'], additionalProperties: false, properties: { kind: { const: 'skip' }, a: { type: 'integer', minimum: 0 }, b: { type: 'integer', minimum: 0 }, body: { type: 'integer', minimum: 0 } } },
    { type: 'object', required: ['kind', 'buffer', 'v', 'c'], additionalProperties: false, properties: { kind: { const: 'load' }, buffer: { type: 'integer' }, v: { type: ['integer', 'null'] }, c: { type: 'integer' } } },
  ],
};

export const IR_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'flowc IR',
  type: 'object',
  // a flow of particles has `particles` and `firstVariation`; a flow of states has `states` and `gradient`
  required: ['version', 'flow', 'seed', 'params', 'measures', 'metric', 'scheme', 'vars', 'nodes', 'energy', 'velocity', 'record'],
  additionalProperties: false,
  properties: {
    version: { const: 1 },
    flow: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, title: { type: 'string' } } },
    seed: { type: 'integer', minimum: 0 },
    params: { type: 'array', items: { type: 'object', required: ['name', 'value'], properties: { name: { type: 'string' }, value: { type: 'array', items: { type: 'number' } } } } },
    measures: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'role', 'dim', 'source'],
        properties: { name: { type: 'string' }, role: { enum: ['particles', 'sample', 'model'] }, dim: { type: 'integer', minimum: 1 }, source: { type: 'object', required: ['kind'] } },
      },
    },
    particles: { type: 'string' },
    states: {
      type: 'array',
      items: { type: 'object', required: ['name', 'role', 'dim', 'init'], properties: { name: { type: 'string' }, role: { enum: ['state', 'critic'] }, dim: { type: 'integer', minimum: 1 }, init: { type: 'array', items: { type: 'number' } } } },
    },
    models: {
      type: 'array',
      items: { type: 'object', required: ['name', 'base', 'dim', 'points'], properties: { name: { type: 'string' }, base: { type: 'string' }, dim: { type: 'integer', minimum: 1 }, points: { type: 'array', items: { type: 'integer', minimum: 0 } } } },
    },
    gradient: { type: 'array', items: { type: 'integer', minimum: 0 } },
    metric: { type: 'object', required: ['name'] },
    scheme: { type: 'object', required: ['name', 'step', 'steps'], properties: { step: { type: 'number' }, steps: { type: 'integer', minimum: 0 } } },
    vars: { type: 'array', items: { type: 'object', required: ['id', 'measure', 'dim', 'name'] } },
    nodes: { type: 'array', items: node },
    energy: { type: 'object', required: ['name', 'root'], properties: { name: { type: 'string' }, root: { type: 'integer', minimum: 0 } } },
    firstVariation: { type: 'object', required: ['variable', 'root'], properties: { variable: { type: 'integer' }, root: { type: 'integer', minimum: 0 } } },
    velocity: { type: 'array', items: { type: 'integer', minimum: 0 } },
    record: { type: 'object', required: ['every', 'items'], properties: { every: { type: 'integer', minimum: 0 }, items: { type: 'array' } } },
  },
} as const;
