import { GilNvtxError } from '../../errors.js';

export async function run(_argv: string[]): Promise<number> {
  throw new GilNvtxError('`gil-nvtx demo` is not built yet.', { exitCode: 2 });
}
