import { describe, expect, it } from 'vitest';
import { normalizePath, statusClass } from '../../lib/instrument/route.js';

describe('normalizePath', () => {
  it('drops query and fragment, folds numeric, hex and uuid segments', () => {
    expect(normalizePath('/users/42?x=1')).toBe('/users/:id');
    expect(normalizePath('/a/0123456789abcdef/b#frag')).toBe('/a/:id/b');
    expect(normalizePath('/t/123e4567-e89b-12d3-a456-426614174000')).toBe('/t/:id');
    expect(normalizePath('/predict')).toBe('/predict');
    expect(normalizePath('http://h:1/x/7')).toBe('/x/:id');
    expect(normalizePath(undefined)).toBe('/');
  });
  it('keeps words that merely contain digits', () => {
    expect(normalizePath('/v2/items')).toBe('/v2/items');
  });
});

describe('statusClass', () => {
  it('classes valid statuses and calls everything else an error', () => {
    expect(statusClass(200)).toBe('2xx');
    expect(statusClass(503)).toBe('5xx');
    expect(statusClass(undefined)).toBe('error');
    expect(statusClass(42)).toBe('error');
  });
});
