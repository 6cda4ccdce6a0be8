import type { Aggregator, Metric, Registry } from 'prom-client'

/** A line of the exposition, as prom-client's Histogram hands it to the registry. */
interface ExposedValue { labels: Record<string, string | number>, sharedLabels?: Series['labels'], value: number, metricName: string, exemplar?: null }

interface MetricSnapshot { name: string, help: string, type: string, aggregator: Aggregator, values: ExposedValue[] }

interface Series {
  labels: { method: string, route: string, status_code: string }
  /** Observations per bucket, not cumulative; the last one counts those above every bound. */
  counts: number[]
  sum: number
  count: number
}

/**
 * `http_request_duration_seconds{method,route,status_code}`: the same histogram, and the same
 * exposition, as prom-client's `Histogram`, with an `observe` that takes the labels as
 * arguments. prom-client validates and hashes a labels object on every observation, which cost
 * about 1.5 us of every request (docs/performance.md); this looks a series up by one string.
 */
export class RequestDurations {
  readonly name = 'http_request_duration_seconds'
  readonly help = 'HTTP request duration by route (the route pattern, not the URL) and status code'
  readonly type = 'histogram'
  readonly aggregator: Aggregator = 'sum'
  readonly #upperBounds: readonly number[]
  readonly #series = new Map<string, Series>()

  constructor (upperBounds: readonly number[], registers: readonly Registry[]) {
    this.#upperBounds = upperBounds
    // A metric to the registry is anything with a name, help, type and get().
    for (const registry of registers) registry.registerMetric(this as unknown as Metric)
  }

  observe (method: string, route: string, statusCode: number, seconds: number): void {
    const key = `${statusCode} ${method} ${route}`
    let series = this.#series.get(key)
    if (series === undefined) {
      series = { labels: { method, route, status_code: String(statusCode) }, counts: new Array<number>(this.#upperBounds.length + 1).fill(0), sum: 0, count: 0 }
      this.#series.set(key, series)
    }
    let bucket = 0
    while (bucket < this.#upperBounds.length && seconds > (this.#upperBounds[bucket] as number)) bucket += 1
    series.counts[bucket] = (series.counts[bucket] as number) + 1
    series.sum += seconds
    series.count += 1
  }

  /** What the registry formats into the text exposition: each series' labels shared by its lines. */
  async getForPromString (): Promise<MetricSnapshot> {
    const values: ExposedValue[] = []
    for (const series of this.#series.values()) values.push(...this.#exposition(series))
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }

  /** `registry.getMetricsAsJSON()`: every line with all of its labels. */
  async get (): Promise<MetricSnapshot> {
    const snapshot = await this.getForPromString()
    const values = snapshot.values.map(({ labels, sharedLabels, ...value }) => ({ ...value, exemplar: null, labels: { ...labels, ...sharedLabels } }))
    return { ...snapshot, values }
  }

  reset (): void {
    this.#series.clear()
  }

  /** As prom-client lays a series out: cumulative buckets, +Inf, sum, count; the series' labels shared. */
  #exposition (series: Series): ExposedValue[] {
    const sharedLabels = series.labels
    let cumulative = 0
    const buckets = this.#upperBounds.map((le, index) => {
      cumulative += series.counts[index] as number
      return { labels: { le }, sharedLabels, value: cumulative, metricName: `${this.name}_bucket` }
    })
    return [
      ...buckets,
      { labels: { le: '+Inf' }, sharedLabels, value: series.count, metricName: `${this.name}_bucket` },
      { labels: {}, sharedLabels, value: series.sum, metricName: `${this.name}_sum` },
      { labels: {}, sharedLabels, value: series.count, metricName: `${this.name}_count` }
    ]
  }
}
