/** Pretrained `.pth` weights kept in IndexedDB, deduplicated by content. */
import { HEAD_PREFIX } from '../../../model/model';
import { readPth } from '../../../model/pth';
import type { StateDict } from '../../../model/tensor-data';
import type { WeightsRow } from './store-schema';
import { uuid, type EngineContext } from './context';
import type { BinaryFile, WeightsSummary } from './types';

function weightsInfo(sd: StateDict): Pick<WeightsSummary, 'tensors' | 'parameters' | 'arch' | 'hasHead'> {
  const keys = [...sd.keys()].map((k) => k.replace(/^module\./, ''));
  const parameters = [...sd.values()].reduce((n, t) => n + (t.dtype.startsWith('float') ? t.data.length : 0), 0);
  const arch = keys.some((k) => k.includes('.expand3x3.')) ? 'squeezenet1_1' : keys.some((k) => k.includes('.block.')) ? 'mobilenet_v3_small' : null;
  return { tensors: keys.length, parameters, arch, hasHead: keys.some((k) => k.startsWith(HEAD_PREFIX)) };
}

export class Weights {
  constructor(private readonly ctx: EngineContext) {}

  async importWeights(name: string, file: BinaryFile): Promise<WeightsSummary> {
    const db = await this.ctx.db();
    const bytes = new Uint8Array(await file.arrayBuffer());
    const sha256 = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)), (b) => b.toString(16).padStart(2, '0')).join('');
    const same = await db.getFromIndex('weights', 'bySha', sha256);
    if (same) {
      const { data: _data, ...summary } = same;
      return summary;
    }
    const sd = readPth(bytes); // throws PthFormatError with a readable message
    const row: WeightsRow = { id: uuid(), name, bytes: bytes.length, sha256, createdAt: Date.now(), ...weightsInfo(sd), data: new Blob([bytes]) };
    await this.ctx.write(`the weights file ${name}`, async () => {
      await db.put('weights', row);
    });
    const { data: _data, ...summary } = row;
    return summary;
  }

  async listWeights(): Promise<WeightsSummary[]> {
    const db = await this.ctx.db();
    return (await db.getAll('weights')).map(({ data: _data, ...s }) => s).sort((a, b) => b.createdAt - a.createdAt);
  }

  async deleteWeights(id: string): Promise<void> {
    await (await this.ctx.db()).delete('weights', id);
  }

  async exportWeights(id: string): Promise<Uint8Array> {
    const row = await (await this.ctx.db()).get('weights', id);
    if (!row) throw new Error('these weights no longer exist; import them again');
    return new Uint8Array(await row.data.arrayBuffer());
  }
}
