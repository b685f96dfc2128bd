import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JsLiteralError, parseJsLiteral } from './js-literal.ts';
import { extractExportedLiteral } from './nsfwjs-package.ts';

describe('parseJsLiteral', () => {
  it('reads minified object literals', () => {
    const text = `{a:!0,b:!1,c:.5,d:-.25,e:1e-3,"f g":[1,null,void 0],'h':'it\\'s',i:{j:[]},0:"zero",k:0x10}`;
    assert.deepEqual(parseJsLiteral(text).value, {
      a: true,
      b: false,
      c: 0.5,
      d: -0.25,
      e: 0.001,
      'f g': [1, null, undefined],
      h: "it's",
      i: { j: [] },
      0: 'zero',
      k: 16,
    });
  });

  it('reports where it stops, so callers can check what follows', () => {
    const { value, end } = parseJsLiteral('x={a:1}},{}]', 2);
    assert.deepEqual(value, { a: 1 });
    assert.equal(end, 7);
  });

  it('keeps a "__proto__" key as data', () => {
    const v = parseJsLiteral('{__proto__:{polluted:1}}').value as Record<string, unknown>;
    assert.deepEqual(Object.keys(v), ['__proto__']);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });

  it('refuses code', () => {
    assert.throws(() => parseJsLiteral('{a:require("fs")}'), JsLiteralError);
    assert.throws(() => parseJsLiteral('{a:1+2}'), /expected "," or "}"/);
    assert.throws(() => parseJsLiteral('[!2]'), JsLiteralError);
  });
});

describe('extractExportedLiteral', () => {
  it('finds the literal a browserify bundle assigns, skipping the UMD call', () => {
    const bundle =
      '!function(e){"object"==typeof exports&&"undefined"!=typeof module?module.exports=e():window.x=e()}' +
      '(function(){return function(){}({1:[function(e,a,n){a.exports="QUJD"},{}]},{},[1])(1)});';
    assert.equal(extractExportedLiteral(bundle, 'test bundle'), 'QUJD');
  });

  it('fails clearly when the bundle format changed', () => {
    assert.throws(() => extractExportedLiteral('module.exports=f()', 'x.js'), /x\.js: expected exactly one "exports=<literal>" assignment, found 0/);
  });
});
