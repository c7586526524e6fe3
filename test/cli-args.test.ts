import { describe, it, expect } from 'vitest';
import { parseCommand, commandHelp, nearest, UsageError, type CommandSpec } from '../src/cli/args';
import { commandSpecs, toArgv } from '../src/cli';

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const spec: CommandSpec = {
  name: 'demo',
  summary: 'a demo command',
  args: '<thing>',
  positionals: { min: 1, max: 1, names: 'a thing' },
  flags: {
    epochs: { kind: 'int', value: 'N', min: 1, help: 'epochs' },
    lr: { kind: 'number', value: 'X', positive: true, help: 'learning rate' },
    scale: { kind: 'string', choices: ['smoke', 'quick'], help: 'scale' },
    set: { kind: 'string', value: 'key=value', repeat: true, help: 'override' },
    json: { kind: 'boolean', help: 'JSON' },
  },
};

describe('the strict parser', () => {
  it('reads positionals, typed values, repeats, booleans and --flag=value', () => {
    const p = parseCommand(spec, [
      'vit',
      '--epochs',
      '3',
      '--lr=1e-3',
      '--set',
      'a=1',
      '--set',
      'b=2',
      '--json',
      '--scale',
      'quick',
    ]);
    expect(p.positional).toEqual(['vit']);
    expect(p.num('epochs')).toBe(3);
    expect(p.num('lr')).toBe(0.001);
    expect(p.list('set')).toEqual(['a=1', 'b=2']);
    expect(p.bool('json')).toBe(true);
    expect(p.str('scale')).toBe('quick');
    expect(p.num('missing')).toBeUndefined();
  });

  it('refuses unknown flags, suggesting the nearest known one', () => {
    expect(() => parseCommand(spec, ['vit', '--epoch', '3'])).toThrow(
      /unknown option --epoch \(did you mean --epochs\?\)/,
    );
    expect(() => parseCommand(spec, ['vit', '--zzzzzz'])).toThrow(UsageError);
    expect(() => parseCommand(spec, ['vit', '--zzzzzz'])).not.toThrow(/did you mean/);
  });

  it('checks numbers, reading a negative number as the value it is', () => {
    expect(() => parseCommand(spec, ['vit', '--epochs', '-1'])).toThrow(
      /--epochs -1 is not valid; expected an integer ≥ 1/,
    );
    expect(() => parseCommand(spec, ['vit', '--epochs', '2.5'])).toThrow(/--epochs 2\.5 is not valid/);
    expect(() => parseCommand(spec, ['vit', '--lr', 'abc'])).toThrow(
      /--lr abc is not valid; expected a finite number > 0/,
    );
    expect(() => parseCommand(spec, ['vit', '--lr', '0'])).toThrow(/--lr 0 is not valid/);
    expect(() => parseCommand(spec, ['vit', '--lr', 'NaN'])).toThrow(/--lr NaN is not valid/);
    expect(() => parseCommand(spec, ['vit', '--lr', ''])).toThrow(
      /--lr {2}is not valid|--lr is not valid|--lr {2}is not valid/,
    );
    expect(() => parseCommand(spec, ['vit', '--epochs'])).toThrow(UsageError);
  });

  it('lists the known values of a choice flag; counts positionals', () => {
    expect(() => parseCommand(spec, ['vit', '--scale', 'big'])).toThrow(
      /unknown --scale value 'big'; expected one of: smoke, quick/,
    );
    expect(() => parseCommand(spec, [])).toThrow(/needs a thing/);
    expect(() => parseCommand(spec, ['a', 'b'])).toThrow(/unexpected argument 'b'/);
    expect(parseCommand(spec, ['--help']).bool('help')).toBe(true); // help needs no positionals
    expect(parseCommand(spec, ['-h']).bool('help')).toBe(true);
  });

  it('help text comes from the declarations', () => {
    const h = commandHelp(spec);
    expect(h).toMatch(/Usage: lightvit demo <thing> \[options\]/);
    for (const l of [
      '--epochs N',
      '--lr X',
      '--scale smoke|quick',
      '--set key=value',
      'override (repeatable)',
      '--json',
      '--help',
    ]) {
      expect(h).toContain(l);
    }
  });

  it('nearest: prefixes and small edit distances, nothing for far words', () => {
    expect(nearest('epoch', ['epochs', 'batch'])).toBe('epochs');
    expect(nearest('btach', ['epochs', 'batch'])).toBe('batch');
    expect(nearest('qqqqqq', ['epochs', 'batch'])).toBeUndefined();
  });

  it("every lightvit command's flags parse, and toArgv gives the bench back what it was given", () => {
    const specs = commandSpecs();
    for (const c of Object.values(specs)) {
      // the help names the command and lists every flag with its help line
      const help = commandHelp(c);
      expect(help.split('\n')[0]).toBe(c.summary);
      expect(help).toContain(`Usage: lightvit ${c.name}`);
      for (const [k, f] of Object.entries(c.flags))
        expect(help).toMatch(new RegExp(`--${k}\\b.*  ${escapeRe(f.help)}`));
      // each flag, given a valid value, parses to that value
      for (const [k, f] of Object.entries(c.flags)) {
        const value =
          f.kind === 'boolean' ? true : f.choices ? f.choices[0] : f.kind === 'string' ? 'x' : Math.max(1, f.min ?? 1);
        const argv = f.kind === 'boolean' ? [`--${k}`] : [`--${k}`, String(value)];
        const positional = Array.from({ length: c.positionals?.min ?? 0 }, () => 'p');
        const got = parseCommand(c, [...argv, ...positional]).values[k];
        expect(got, `${c.name} --${k}`).toEqual(f.repeat ? [value] : value);
      }
    }
    const p = parseCommand(specs.bench, ['--json', '--steps', '3', '--models', 'bench-vit']);
    expect(toArgv(p)).toEqual(['--json', '--steps=3', '--models=bench-vit']);
  });
});
