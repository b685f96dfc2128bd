/** Command-line mistakes come out as one line a user can act on, whatever Node's parser says. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { parseFlags, UsageError } from './usage-error.ts';

const options = { duration: { type: 'string' }, quick: { type: 'boolean' } } as const;
const mistake = (args: string[], allowPositionals = false): string => {
  try {
    parseFlags({ args, options, allowPositionals });
  } catch (err) {
    assert.ok(err instanceof UsageError);
    assert.ok(!err.message.includes('\n'), `one line: ${err.message}`);
    return err.message;
  }
  return assert.fail('no mistake found');
};

it('each kind of mistake gets a one-line message that names the flag', () => {
  assert.equal(mistake(['--duration', '-1']), '--duration needs a value; to give one that starts with a dash, write --duration=-1 (for example)');
  assert.equal(mistake(['--duration']), '--duration needs a value');
  assert.equal(mistake(['--quick=yes']), '--quick takes no value');
  assert.equal(mistake(['--colour']), 'unknown option --colour');
  assert.equal(mistake(['--colour'], true), 'unknown option --colour', 'no quote left open where positionals are allowed');
  assert.equal(mistake(['-z']), 'unknown option -z');
  assert.equal(mistake(['extra']), 'unexpected argument "extra": this command takes only --options');
});

it('a dash value written with = is taken, and strict is the default', () => {
  assert.equal(parseFlags({ args: ['--duration=-1'], options }).values.duration, '-1');
  assert.equal(parseFlags({ args: ['--colour'], options, strict: false }).values.colour, true);
});

it('the usage shown is that of the given sub-command', () => {
  try {
    parseFlags({ args: ['--colour'], options }, 'list');
    assert.fail('accepted');
  } catch (err) {
    assert.equal((err as UsageError).verb, 'list');
  }
});
