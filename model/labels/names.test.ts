import { describe, expect, it } from 'vitest';
import { classNameProblem, newClassNameProblem, validateClassNames } from './class-names';
import { isVertexLabel, suggestVertexLabels, vertexLabelProblem } from './vertex-names';

describe('class names', () => {
  it('refuses empty, padded, control, slash and over-long names', () => {
    expect(classNameProblem('sea view')).toBeNull();
    expect(classNameProblem('Straße 3')).toBeNull();
    expect(classNameProblem('')).toMatch(/empty/);
    expect(classNameProblem('   ')).toMatch(/empty/);
    expect(classNameProblem(' sea')).toMatch(/whitespace/);
    expect(classNameProblem('sea\t')).toMatch(/whitespace/);
    expect(classNameProblem('sea  view')).toMatch(/consecutive/);
    expect(classNameProblem('a\u0001b')).toMatch(/control/);
    expect(classNameProblem('a/b')).toMatch(/slash/);
    expect(classNameProblem('..')).toMatch(/folder/);
    expect(classNameProblem('x'.repeat(101))).toMatch(/longer than 100/);
  });

  it('finds duplicates, also ignoring case', () => {
    expect(validateClassNames(['sea', 'forest', 'sea', 'Forest', ''])).toEqual([
      { name: 'sea', reason: '"sea" is listed twice' },
      { name: 'Forest', reason: '"Forest" differs from "forest" only in case' },
      { name: '', reason: 'a class name cannot be empty' },
    ]);
    expect(newClassNameProblem('SEA', ['sea'])).toMatch(/only in case/);
    expect(newClassNameProblem('sea', ['sea'])).toMatch(/already exists/);
    // Renaming a class to another case of itself is allowed.
    expect(newClassNameProblem('Sea', ['sea', 'forest'], 'sea')).toBeNull();
  });
});

describe('Vertex AI class names', () => {
  it('accepts a letter then letters, digits and underscores, up to 32', () => {
    expect(isVertexLabel('sea_view_2')).toBe(true);
    expect(isVertexLabel('S')).toBe(true);
    expect(vertexLabelProblem('sea view')).toMatch(/only letters, digits and underscores/);
    expect(vertexLabelProblem('3d')).toMatch(/start with a letter/);
    expect(vertexLabelProblem('_x')).toMatch(/start with a letter/);
    expect(vertexLabelProblem('café')).toMatch(/only letters/);
    expect(vertexLabelProblem('sea-view')).toMatch(/only letters/);
    expect(vertexLabelProblem('')).toMatch(/empty/);
    expect(isVertexLabel('a'.repeat(32))).toBe(true);
    expect(vertexLabelProblem('a'.repeat(33))).toMatch(/longer than 32/);
  });

  it('suggests a valid, collision-free name for each class', () => {
    const m = suggestVertexLabels(['sea view', '3d', 'café', 'sea_view', 'Sea View', 'forest', '!!!', 'x'.repeat(40), 'x'.repeat(41)]);
    expect(Object.fromEntries(m)).toEqual({
      'sea view': 'sea_view_2', // sea_view is taken by the class already named so
      '3d': 'c_3d',
      café: 'cafe',
      sea_view: 'sea_view',
      'Sea View': 'Sea_View_3',
      forest: 'forest',
      '!!!': 'class',
      ['x'.repeat(40)]: 'x'.repeat(32),
      ['x'.repeat(41)]: 'x'.repeat(30) + '_2',
    });
    const names = [...m.values()];
    expect(names.every(isVertexLabel)).toBe(true);
    expect(new Set(names.map((n) => n.toLowerCase())).size).toBe(names.length);
    expect(Object.fromEntries(suggestVertexLabels(['sea view', 'glacier']))).toEqual({ 'sea view': 'sea_view', glacier: 'glacier' });
  });
});
