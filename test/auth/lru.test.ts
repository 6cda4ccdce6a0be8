import t from 'tap'
import { LruMap } from '../../src/auth/sessions/lru.js'

function filled (capacity: number): LruMap<number, string> {
  const map = new LruMap<number, string>(capacity)
  for (let key = 0; key < capacity; key++) map.set(key, `v${key}`)
  return map
}

const kept = (map: LruMap<number, string>, keys: number[]): number[] => keys.filter((key) => map.get(key) !== undefined)

t.test('past the capacity the entry least recently put at the end goes first', async (t) => {
  const map = filled(4)
  map.set(4, 'v4')
  t.equal(map.size, 4)
  t.equal(map.get(0), undefined, 'the oldest went')
  t.equal(map.get(4), 'v4')
})

t.test('a read of an entry in the older half moves it to the end', async (t) => {
  const map = filled(10)
  t.equal(map.get(1), 'v1', 'entry 1 is among the oldest')
  for (let key = 10; key < 19; key++) map.set(key, `v${key}`)
  t.same(kept(map, [0, 1, 2]), [1], '9 insertions later: 1 was kept, 0 and 2 were not')
})

t.test('a read of an entry in the newer half leaves it where it is', async (t) => {
  const map = filled(10)
  t.equal(map.get(8), 'v8', 'entry 8 is among the newest: not moved')
  for (let key = 10; key < 19; key++) map.set(key, `v${key}`)
  t.same(kept(map, [8, 9]), [9], '9 insertions later it went before 9, as if it had not been read')
})

t.test('an entry read is kept for at least half the capacity of insertions', async (t) => {
  const map = filled(10)
  map.get(8)
  for (let key = 10; key < 15; key++) map.set(key, `v${key}`)
  t.equal(map.get(8), 'v8', 'kept 5 insertions after the read; this read moves it (it is in the older half now)')
  for (let key = 15; key < 19; key++) map.set(key, `v${key}`)
  t.same(kept(map, [8, 9]), [8], 'so it outlives 9')
})

t.test('delete, clear and a capacity of 0', async (t) => {
  const map = filled(3)
  map.delete(1)
  t.equal(map.get(1), undefined)
  t.equal(map.size, 2)
  map.set(0, 'again')
  t.equal(map.get(0), 'again', 'setting a key again replaces its value')
  map.clear()
  t.equal(map.size, 0)
  const none = new LruMap<string, number>(0)
  none.set('a', 1)
  t.equal(none.size, 0, 'nothing is kept')
})
