/**
 * A deterministic generator of realistic commerce events for tests, benchmarks and
 * `pipeline dev-broker --events N`.
 *
 * Each event is ~250 bytes of JSON with `event_type`, `id` (also the Kafka key, so every
 * version of an entity lands in one partition), an integer `seq` version, an ISO-8601
 * `event_time` and 4–8 typed fields of its type. Entities get ~4 versions on average,
 * spread over the whole run; some versions arrive late (an older `seq` after a newer one)
 * and a few are delivered twice byte for byte, as an at-least-once producer would.
 * `analytics` is an append-only clickstream (every event a new id). A small share of events
 * is of a type no route knows (`legacy_audit`), and a configurable share is malformed.
 *
 * The same `seed` and options always give the same bytes.
 */

/** The event types a commerce pipeline routes; `analytics` is append-only. */
export const EVENT_TYPES = ['orders', 'users', 'payments', 'inventory', 'products', 'shipments', 'refunds', 'reviews', 'analytics'] as const;
/** An event type. */
export type EventType = (typeof EVENT_TYPES)[number];
/** The type that no route matches (dead-lettered as unmatched). */
export const UNKNOWN_EVENT_TYPE = 'legacy_audit';

/** One Kafka record: key (the entity id), JSON value bytes, timestamp in ms. */
export interface GeneratedEvent {
  key: string | null;
  value: Buffer;
  timestamp: number;
}

/** Generator knobs. Rates are fractions of `count` (0.002 = 0.2 %). */
export interface GenerateEventsOptions {
  count: number;
  seed: number;
  /** Malformed records (truncated, invalid UTF-8, non-object, missing event_type). Default 0.002. */
  malformedRate?: number;
  /** Records of the unrouted `legacy_audit` type. Default 0.005. */
  unknownRate?: number;
  /** Time of the first event, ms since epoch. Default 2026-01-01T00:00:00Z. */
  startTime?: number;
}

/** Share of each type among well-formed, known events; clickstream dominates as in real shops. */
const TYPE_WEIGHTS: Record<EventType, number> = {
  analytics: 30, orders: 15, payments: 12, inventory: 10, shipments: 10, users: 8, reviews: 7, products: 5, refunds: 3,
};
const ID_PREFIX: Record<EventType, string> = {
  orders: 'ord', users: 'usr', payments: 'pay', inventory: 'inv', products: 'prd', shipments: 'shp', refunds: 'ref', reviews: 'rev', analytics: 'evt',
};
/** Probability that an event is a new entity: 1/4 gives ~4 versions per key. */
const NEW_KEY_PROBABILITY = 0.25;
/** Probability that a version is held back and delivered after the next one. */
const LATE_PROBABILITY = 0.08;
/** Probability that an event is an exact redelivery of the entity's previous record. */
const DUPLICATE_PROBABILITY = 0.01;

/** sfc32: a small, fast, well-distributed 32-bit PRNG; good enough for test data. */
export function createRandom(seed: number): () => number {
  let a = 0x9e3779b9, b = 0x243f6a88, c = 0xb7e15162, d = seed >>> 0;
  const next = () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 15; i++) next();
  return next;
}

/** Per-entity state: next version, a held-back late version, the last record sent. */
interface Entity {
  id: string;
  nextSeq: number;
  late?: { seq: number; time: number };
  last?: Buffer;
}

/** The service that emitted each type, as a real producer would stamp it. */
const SOURCE: Record<EventType, string> = {
  orders: 'checkout-service', users: 'identity-service', payments: 'payment-gateway', inventory: 'warehouse-sync', products: 'catalog-service',
  shipments: 'fulfilment-service', refunds: 'payment-gateway', reviews: 'reviews-service', analytics: 'web-tracker',
};

const pad = (n: number) => String(n).padStart(6, '0');

let cachedSecond = NaN;
let cachedPrefix = '';
/** `Date#toISOString` with the `YYYY-MM-DDTHH:MM:SS.` prefix cached per second (events are dense). */
function isoTime(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedPrefix = new Date(second * 1000).toISOString().slice(0, 20);
  }
  return `${cachedPrefix}${String(ms - second * 1000).padStart(3, '0')}Z`;
}

/**
 * Yields `count` events. Fast enough for a million events in a few seconds; values are
 * built with JSON.stringify of small objects (key order fixed by the builders).
 */
export function* generateEvents(opts: GenerateEventsOptions): Generator<GeneratedEvent> {
  const random = createRandom(opts.seed);
  const malformedRate = opts.malformedRate ?? 0.002;
  const unknownRate = opts.unknownRate ?? 0.005;
  const start = opts.startTime ?? Date.UTC(2026, 0, 1);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const money = (lo: number, hi: number) => Math.round((lo + random() * (hi - lo)) * 100) / 100;
  const totalWeight = Object.values(TYPE_WEIGHTS).reduce((a, b) => a + b, 0);
  const weighted = EVENT_TYPES.flatMap((t) => Array<EventType>(TYPE_WEIGHTS[t]).fill(t));
  if (weighted.length !== totalWeight) throw new Error('type weights must be integers');

  const entities = new Map<EventType, Entity[]>(EVENT_TYPES.map((t) => [t, []]));
  const counters = new Map<string, number>();
  const nextId = (prefix: string) => {
    const n = (counters.get(prefix) ?? 0) + 1;
    counters.set(prefix, n);
    return `${prefix}-${pad(n)}`;
  };
  // Cross-references (order_id in payments, product_id in reviews) point at ids that exist.
  const anyId = (type: EventType, fallbackPrefix: string) => {
    const list = entities.get(type)!;
    return list.length ? list[Math.floor(random() * list.length)]!.id : `${fallbackPrefix}-${pad(1)}`;
  };
  const builders = typeBuilders({ random, pick, int, money, anyId });

  let time = start;
  for (let i = 0; i < opts.count; i++) {
    time += int(0, 40);
    const roll = random();
    if (roll < unknownRate) {
      const id = nextId('aud');
      const value = { event_type: UNKNOWN_EVENT_TYPE, id, seq: 1, event_time: isoTime(time), actor: `usr-${pad(int(1, 5000))}`, action: pick(['login', 'export', 'grant']), ip: `10.${int(0, 255)}.${int(0, 255)}.${int(1, 254)}` };
      yield { key: id, value: Buffer.from(JSON.stringify(value)), timestamp: time };
      continue;
    }
    const type = pick(weighted);
    let entity: Entity;
    const list = entities.get(type)!;
    if (type === 'analytics' || list.length === 0 || random() < NEW_KEY_PROBABILITY) {
      entity = { id: nextId(ID_PREFIX[type]), nextSeq: 1 };
      if (type !== 'analytics') list.push(entity);
    } else {
      entity = list[Math.floor(random() * list.length)]!;
    }

    let value: Buffer;
    if (entity.last && random() < DUPLICATE_PROBABILITY) {
      value = entity.last;
    } else {
      let seq: number;
      let eventTime = time;
      if (entity.late) {
        ({ seq, time: eventTime } = entity.late);
        entity.late = undefined;
      } else if (type !== 'analytics' && entity.nextSeq > 1 && random() < LATE_PROBABILITY) {
        entity.late = { seq: entity.nextSeq, time };
        seq = entity.nextSeq + 1;
        entity.nextSeq += 2;
      } else {
        seq = entity.nextSeq++;
      }
      // Header fields first, in a fixed order.
      value = Buffer.from(`{"event_type":"${type}","id":"${entity.id}","seq":${seq},"event_time":"${isoTime(eventTime)}","source":"${SOURCE[type]}",${builders[type](seq)}}`);
      if (type !== 'analytics') entity.last = value;
    }
    if (random() < malformedRate) value = corrupt(value, random);
    yield { key: entity.id, value, timestamp: time };
  }
}

/** Breaks a record so that every JSON decoder (strict or lossy UTF-8) rejects or mis-routes it. */
function corrupt(value: Buffer, random: () => number): Buffer {
  const kind = Math.floor(random() * 4);
  switch (kind) {
    case 0: // truncated mid-record, as a torn write would leave it
      return value.subarray(0, 1 + Math.floor(random() * (value.length - 2)));
    case 1: // invalid UTF-8 between tokens: also fails after lossy U+FFFD replacement
      return Buffer.concat([value.subarray(0, 1), Buffer.from([0xc3, 0x28, 0xff]), value.subarray(1)]);
    case 2: // valid JSON, but not an object
      return Buffer.from(`[${value.toString('utf8')}]`);
    default: { // a valid object without the routing field
      const obj = JSON.parse(value.toString('utf8')) as Record<string, unknown>;
      delete obj.event_type;
      return Buffer.from(JSON.stringify(obj));
    }
  }
}

interface BuilderTools {
  random: () => number;
  pick: <T>(items: readonly T[]) => T;
  int: (lo: number, hi: number) => number;
  money: (lo: number, hi: number) => number;
  anyId: (type: EventType, fallbackPrefix: string) => string;
}

const COUNTRIES = ['US', 'DE', 'FR', 'GB', 'NL', 'ES', 'IT', 'SE', 'PL', 'JP'];
const CITIES = ['Berlin', 'Paris', 'London', 'Amsterdam', 'Madrid', 'Milan', 'Stockholm', 'Warsaw', 'Tokyo', 'Austin'];
const CURRENCIES = ['EUR', 'USD', 'GBP'];
const ORDER_STATUS = ['created', 'paid', 'packed', 'shipped', 'delivered'];
const CHANNELS = ['web', 'ios', 'android', 'store'];
const FIRST_NAMES = ['Ada', 'Linus', 'Grace', 'Ken', 'Barbara', 'Edsger'];
const LAST_NAMES = ['Lovelace', 'Hopper', 'Thompson', 'Liskov', 'Dijkstra'];
const PLANS = ['free', 'plus', 'pro', 'enterprise'];
const SIGNUP_SOURCES = ['organic', 'ads', 'referral', 'partner'];
const PAYMENT_METHODS = ['card', 'paypal', 'bank_transfer', 'klarna'];
const PAYMENT_STATUS = ['authorized', 'captured', 'settled'];
const WAREHOUSES = ['FRA1', 'AMS2', 'LHR1', 'MAD1', 'WAW1'];
const PRODUCT_ADJECTIVES = ['Classic', 'Ultra', 'Eco', 'Mini', 'Pro'];
const PRODUCT_NOUNS = ['Backpack', 'Kettle', 'Lamp', 'Sneaker', 'Headphones', 'Desk'];
const CATEGORIES = ['bags', 'kitchen', 'lighting', 'footwear', 'audio', 'furniture'];
const CARRIERS = ['DHL', 'UPS', 'FedEx', 'PostNL', 'DPD'];
const SHIPMENT_STATUS = ['label_created', 'picked_up', 'in_transit', 'out_for_delivery', 'delivered'];
const REFUND_REASONS = ['damaged', 'late', 'wrong_item', 'changed_mind'];
const REFUND_STATUS = ['requested', 'approved', 'paid_out'];
const REVIEW_TITLES = ['Great value', 'Not as described', 'Love it', 'Broke after a week', 'Okay'];
const PAGES = ['/', '/search', '/product', '/cart', '/checkout', '/account'];
const ACTIONS = ['view', 'click', 'scroll', 'add_to_cart', 'purchase'];
const DEVICES = ['desktop', 'mobile', 'tablet'];
const REFERRERS = ['"google"', '"direct"', '"newsletter"', '"instagram"', 'null'];

/**
 * Type-specific fields as a JSON fragment (no braces); `seq` lets statuses progress with
 * the version. Written as templates rather than objects + JSON.stringify because this is
 * the generator's hot path; every value is plain ASCII without quotes, so nothing needs
 * escaping.
 */
function typeBuilders({ random, pick, int, money, anyId }: BuilderTools): Record<EventType, (seq: number) => string> {
  const progress = (steps: readonly string[], seq: number) => steps[Math.min(seq - 1, steps.length - 1)]!;
  const bool = (p: number) => (random() < p ? 'true' : 'false');
  const user = () => `usr-${pad(int(1, 20000))}`;
  return {
    orders: (seq) =>
      `"customer_id":"${user()}","status":"${progress(ORDER_STATUS, seq)}","total_amount":${money(5, 900)},"currency":"${pick(CURRENCIES)}",` +
      `"item_count":${int(1, 12)},"channel":"${pick(CHANNELS)}","shipping":{"country":"${pick(COUNTRIES)}","city":"${pick(CITIES)}"}`,
    users: () =>
      `"email":"user${int(1, 999999)}@example.com","full_name":"${pick(FIRST_NAMES)} ${pick(LAST_NAMES)}","country":"${pick(COUNTRIES)}",` +
      `"plan":"${pick(PLANS)}","is_active":${bool(0.9)},"phone":${random() < 0.3 ? 'null' : `"+49${int(100000000, 999999999)}"`},"signup_source":"${pick(SIGNUP_SOURCES)}"`,
    payments: (seq) =>
      `"order_id":"${anyId('orders', 'ord')}","amount":${money(5, 900)},"currency":"${pick(CURRENCIES)}","method":"${pick(PAYMENT_METHODS)}",` +
      `"status":"${progress(PAYMENT_STATUS, seq)}","processor_latency_ms":${int(40, 2500)}`,
    inventory: () =>
      `"sku":"SKU-${int(10000, 99999)}","warehouse":"${pick(WAREHOUSES)}","quantity_on_hand":${int(0, 5000)},"reserved":${int(0, 200)},` +
      `"reorder_point":${int(10, 500)},"last_counted_by":"emp-${pad(int(1, 900))}"`,
    products: () =>
      `"sku":"SKU-${int(10000, 99999)}","title":"${pick(PRODUCT_ADJECTIVES)} ${pick(PRODUCT_NOUNS)}","category":"${pick(CATEGORIES)}",` +
      `"price":${money(3, 1500)},"currency":"${pick(CURRENCIES)}","active":${bool(0.95)}`,
    shipments: (seq) =>
      `"order_id":"${anyId('orders', 'ord')}","carrier":"${pick(CARRIERS)}","status":"${progress(SHIPMENT_STATUS, seq)}",` +
      `"tracking_number":"TRK${int(100000000, 999999999)}","weight_kg":${Math.round(random() * 3000) / 100},"destination_country":"${pick(COUNTRIES)}"`,
    refunds: (seq) =>
      `"order_id":"${anyId('orders', 'ord')}","payment_id":"${anyId('payments', 'pay')}","amount":${money(1, 400)},` +
      `"reason":"${pick(REFUND_REASONS)}","status":"${progress(REFUND_STATUS, seq)}"`,
    reviews: () =>
      `"product_id":"${anyId('products', 'prd')}","user_id":"${user()}","rating":${int(1, 5)},"title":"${pick(REVIEW_TITLES)}",` +
      `"verified_purchase":${bool(0.8)},"helpful_votes":${int(0, 250)}`,
    analytics: () =>
      `"session_id":"ses-${int(1, 99999999).toString(36)}","user_id":${random() < 0.4 ? 'null' : `"${user()}"`},"page":"${pick(PAGES)}",` +
      `"action":"${pick(ACTIONS)}","duration_ms":${int(5, 60000)},"device":"${pick(DEVICES)}","referrer":${pick(REFERRERS)}`,
  };
}
