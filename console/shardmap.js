// The shard map: one box per shard, its hash-key range on the vertical axis (0 at the top,
// 2^128 - 1 at the bottom) and its generation on the horizontal one (a child is one column
// right of its latest parent), with lines from parents to children through splits and merges.

import { svg } from './dom.js';

const HASH_SPACE = 2n ** 128n;
const COLUMN = 150;
const BOX = 110;
const HEIGHT = 320;

// Where a hash key falls, from 0 to 1.
const fraction = (key) => Number((BigInt(key) * 1_000_000n) / HASH_SPACE) / 1_000_000;

const shortId = (id) => id.replace(/^shardId-0*(?=\d)/, '');

// Each shard's column: 0 without a parent in the list, else one more than its parents'.
function generations(shards) {
  const byId = new Map(shards.map((s) => [s.ShardId, s]));
  const memo = new Map();
  const generation = (shard) => {
    if (!memo.has(shard.ShardId)) {
      const parents = [shard.ParentShardId, shard.AdjacentParentShardId].map((id) => byId.get(id)).filter(Boolean);
      memo.set(shard.ShardId, parents.length ? 1 + Math.max(...parents.map(generation)) : 0);
    }
    return memo.get(shard.ShardId);
  };
  shards.forEach(generation);
  return memo;
}

export function shardMap(shards) {
  const columns = generations(shards);
  const width = (Math.max(0, ...columns.values()) + 1) * COLUMN;
  const box = new Map(shards.map((shard) => {
    const top = fraction(shard.HashKeyRange.StartingHashKey) * HEIGHT;
    const bottom = (fraction(shard.HashKeyRange.EndingHashKey) + 1e-6) * HEIGHT;
    return [shard.ShardId, { x: columns.get(shard.ShardId) * COLUMN + 10, y: top, height: Math.max(bottom - top, 14) }];
  }));
  const edges = shards.flatMap((child) =>
    [child.ParentShardId, child.AdjacentParentShardId].filter((id) => box.has(id)).map((parent) => {
      const from = box.get(parent);
      const to = box.get(child.ShardId);
      // Meet at the middle of the hash range the two have in common.
      const y = (Math.max(from.y, to.y) + Math.min(from.y + from.height, to.y + to.height)) / 2;
      return svg('path', { class: 'lineage', d: `M${from.x + BOX},${y} C${from.x + BOX + 20},${y} ${to.x - 20},${y} ${to.x},${y}` });
    }));
  const boxes = shards.map((shard) => {
    const { x, y, height } = box.get(shard.ShardId);
    const open = !shard.SequenceNumberRange.EndingSequenceNumber;
    const range = `${shard.HashKeyRange.StartingHashKey} – ${shard.HashKeyRange.EndingHashKey}`;
    return svg('g', { class: `shard ${open ? 'open' : 'closed'}`, 'data-shard': shard.ShardId },
      svg('title', {}, `${shard.ShardId} (${open ? 'open' : 'closed'})\nhash keys ${range}`),
      svg('rect', { x, y: y + 1, width: BOX, height: height - 2, rx: 3 }),
      height >= 14 ? svg('text', { x: x + 6, y: y + Math.min(height / 2, 14) + 4 }, `${shortId(shard.ShardId)}${open ? '' : ' (closed)'}`) : null,
    );
  });
  const axis = [0, 0.25, 0.5, 0.75, 1].map((f) =>
    svg('text', { class: 'scale', x: width + 4, y: Math.min(f * HEIGHT + 4, HEIGHT) }, f === 0 ? '0' : f === 1 ? '2¹²⁸' : `${f * 100}%`));
  return svg('svg', { class: 'shard-map', viewBox: `0 -6 ${width + 40} ${HEIGHT + 12}`, width: width + 40, height: HEIGHT + 12, role: 'img', 'aria-label': 'shard map' },
    edges, boxes, axis);
}
