// A CommonJS consumer: gil-nvtx is ESM, so CJS code reaches it through import(), with the same types.
async function main(): Promise<void> {
  const nvtx = await import('gil-nvtx');
  const d = nvtx.domain('svc');
  const n: number = d.range('x', () => 1);
  const r = d.start(d.registerString('y'));
  r.end();
  // @ts-expect-error names are strings or handles
  d.mark(42n);
  void n;
}
void main;
