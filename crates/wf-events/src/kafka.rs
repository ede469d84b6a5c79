//! Kafka in and out: the producer wf-sim writes with and the consumer wf-agg and
//! wf-prom read with.
//!
//! **Topics and keys.** `transaction_open` and `transaction_close` go to the
//! transaction topic, every other line to the steps topic; the key is the
//! `txn_id`. With both topics created with the same partition count (and the
//! default partitioner), a transaction's events land in the same partition number
//! of both, and the default `range` assignor gives both to the same consumer.
//!
//! **Order.** The consumer hands events on in event-time order across all its
//! partitions: a merge that releases the earliest buffered event only once every
//! assigned partition has a buffered event or is at its end (at equal times an
//! open goes first and a close last). Within a partition Kafka keeps the
//! producer's order. So the numbers do not depend on how the partitions and the
//! two topics interleave on arrival. A partition that stays silent without
//! reaching its end (a broker away) holds the merge at most [`MAX_HOLD`]; more
//! than [`MAX_BUFFERED`] buffered events are released regardless. Either only
//! loosens the order; no event is dropped.
//!
//! **Offsets.** Auto-commit is off. An offset is committed only once its event
//! was handed to the caller (at-least-once): when the caller commits (wf-agg,
//! after its report and state are written), periodically if asked (wf-prom), and
//! on a rebalance, before the partitions are given up. Events buffered but not
//! yet handed on are not committed; the next owner reads them.

use std::collections::VecDeque;
use std::ffi::CString;
use std::fmt;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use lexopt::Parser;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message as _;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer as _, ProducerContext};
use rdkafka::statistics::Statistics;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use crate::cli;
use crate::event::{parse_line, EventType, ParseError};
use crate::hash::FxHashMap;
use crate::pipeline::Item;
use crate::source::is_blank;
use crate::units::parse_duration_ms;

pub const DEFAULT_TOPIC_STEPS: &str = "workflow.steps";
pub const DEFAULT_TOPIC_TXN: &str = "workflow.transactions";

/// How long a silent partition may hold back the others.
pub const MAX_HOLD: Duration = Duration::from_secs(10);
/// How long a partition at its end may hold back newly arrived events.
pub const LIVE_HOLD: Duration = Duration::from_millis(100);
/// Buffered events past which the merge releases without waiting (a last
/// resort: partitions far ahead are paused long before).
pub const MAX_BUFFERED: usize = 1_000_000;
/// A partition with this many events buffered stops fetching until the merge
/// has taken half of them: a broker that serves one topic first (tansu sends
/// a whole partition before another) cannot fill memory or force the order.
const PAUSE_AT: usize = 10_000;
/// How long a reader that stops when idle waits for its first partitions.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a final commit keeps trying while the group rebalances.
const COMMIT_RETRY: Duration = Duration::from_secs(30);
/// How often the handler hears the consumer's status.
const STATUS_INTERVAL: Duration = Duration::from_secs(1);
/// How long connecting and the first metadata request may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A `--kafka-config KEY=VALUE` value.
pub fn config_pair(p: &mut Parser, flag: &str) -> Result<(String, String), String> {
    let raw = cli::string(p, flag)?;
    match raw.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!(
            "invalid value '{raw}' for {flag}: expected KEY=VALUE (a librdkafka setting)"
        )),
    }
}

/// Seconds, as the seed tools take them (`5`, `0.5`), or a duration (`500ms`).
pub fn seconds(p: &mut Parser, flag: &str) -> Result<Duration, String> {
    let raw = cli::string(p, flag)?;
    if let Ok(s) = raw.parse::<f64>() {
        if s.is_finite() && s >= 0.0 {
            return Ok(Duration::from_secs_f64(s));
        }
    }
    parse_duration_ms(&raw)
        .map(Duration::from_millis)
        .map_err(|e| format!("{flag}: {e}"))
}

/// The consumer's command-line flags, shared by every tool that reads Kafka.
#[derive(Clone, Debug)]
pub struct ConsumerFlags {
    pub bootstrap: Option<String>,
    pub topics: Vec<String>,
    pub group: String,
    pub from_beginning: bool,
    pub config: Vec<(String, String)>,
}

impl ConsumerFlags {
    /// Flags with `group` as the default consumer group.
    pub fn new(group: &str) -> ConsumerFlags {
        ConsumerFlags {
            bootstrap: None,
            topics: Vec::new(),
            group: group.to_string(),
            from_beginning: false,
            config: Vec::new(),
        }
    }

    /// Takes `--NAME` if it is a Kafka flag; false if it is not one.
    pub fn take_long(&mut self, name: &str, p: &mut Parser) -> Result<bool, String> {
        match name {
            "kafka-bootstrap" => self.bootstrap = Some(cli::string(p, "--kafka-bootstrap")?),
            "kafka-topics" => {
                // The seed's `--kafka-topics a b`, and `a,b`.
                let values = p
                    .values()
                    .map_err(|_| "--kafka-topics needs a value".to_string())?;
                for v in values {
                    let v = v
                        .into_string()
                        .map_err(|v| format!("invalid value {v:?} for --kafka-topics"))?;
                    self.topics
                        .extend(v.split(',').filter(|t| !t.is_empty()).map(str::to_string));
                }
            }
            "kafka-group" => self.group = cli::string(p, "--kafka-group")?,
            "kafka-config" => self.config.push(config_pair(p, "--kafka-config")?),
            "from-beginning" => self.from_beginning = true,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// After the last flag: the Kafka flags make sense together.
    pub fn finish(&mut self) -> Result<(), String> {
        if self.bootstrap.is_none() {
            if !self.topics.is_empty() || self.from_beginning || !self.config.is_empty() {
                return Err("the Kafka flags need --kafka-bootstrap".into());
            }
            return Ok(());
        }
        if self.topics.is_empty() {
            self.topics = vec![DEFAULT_TOPIC_TXN.into(), DEFAULT_TOPIC_STEPS.into()];
        }
        if self.group.is_empty() {
            return Err("--kafka-group must not be empty".into());
        }
        Ok(())
    }
}

/// A Kafka failure, in words for a one-line error.
#[derive(Debug)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err(context: impl fmt::Display, e: KafkaError) -> Error {
    Error(format!("{context}: {e}"))
}

fn base_config(bootstrap: &str, extra: &[(String, String)]) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap);
    // librdkafka's own log lines would interleave with the tools' output.
    c.set("log_level", "3");
    for (k, v) in extra {
        c.set(k, v);
    }
    c
}

/// Fails unless the broker answers and every topic exists.
fn check_topics<C: ClientContext>(
    client: &rdkafka::client::Client<C>,
    bootstrap: &str,
    topics: &[&str],
) -> Result<(), Error> {
    let md = client
        .fetch_metadata(None, CONNECT_TIMEOUT)
        .map_err(|e| err(format!("cannot reach Kafka at {bootstrap}"), e))?;
    for t in topics {
        let found = md.topics().iter().find(|m| m.name() == *t);
        match found {
            Some(m) if m.error().is_none() && !m.partitions().is_empty() => {}
            _ => {
                return Err(Error(format!(
                "topic '{t}' does not exist on {bootstrap}; create it first (see docs/scaling.md)"
            )))
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- producer

#[derive(Default)]
struct DeliveryCounts {
    delivered: AtomicU64,
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

struct ProducerCtx(Arc<DeliveryCounts>);

impl ClientContext for ProducerCtx {}

impl ProducerContext for ProducerCtx {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.0.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, _)) => {
                self.0.failed.fetch_add(1, Ordering::Relaxed);
                let mut first = lock(&self.0.first_error);
                if first.is_none() {
                    *first = Some(e.to_string());
                }
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Where the producer sends and how.
#[derive(Clone, Debug)]
pub struct ProducerFlags {
    pub bootstrap: Option<String>,
    pub topic_steps: String,
    pub topic_txn: String,
    pub config: Vec<(String, String)>,
}

impl Default for ProducerFlags {
    fn default() -> ProducerFlags {
        ProducerFlags {
            bootstrap: None,
            topic_steps: DEFAULT_TOPIC_STEPS.into(),
            topic_txn: DEFAULT_TOPIC_TXN.into(),
            config: Vec::new(),
        }
    }
}

impl ProducerFlags {
    /// Takes `--NAME` if it is a Kafka flag; false if it is not one.
    pub fn take_long(&mut self, name: &str, p: &mut Parser) -> Result<bool, String> {
        match name {
            "kafka-bootstrap" => self.bootstrap = Some(cli::string(p, "--kafka-bootstrap")?),
            "topic-steps" => self.topic_steps = cli::string(p, "--topic-steps")?,
            "topic-txn" => self.topic_txn = cli::string(p, "--topic-txn")?,
            "kafka-config" => self.config.push(config_pair(p, "--kafka-config")?),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// What a producer delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivered {
    pub sent: u64,
    pub delivered: u64,
}

/// Sends event lines to the two topics, keyed by `txn_id`.
pub struct EventProducer {
    producer: BaseProducer<ProducerCtx>,
    counts: Arc<DeliveryCounts>,
    topic_steps: String,
    topic_txn: String,
    sent: u64,
}

impl EventProducer {
    /// Connects and checks that both topics exist.
    pub fn connect(bootstrap: &str, flags: &ProducerFlags) -> Result<EventProducer, Error> {
        let mut c = ClientConfig::new();
        // Ordered per partition even across retries; a dead broker is an error in
        // 30 s, not the default 5 minutes. Both can be overridden.
        c.set("enable.idempotence", "true");
        c.set("message.timeout.ms", "30000");
        c.set("linger.ms", "5");
        c.set("batch.num.messages", "10000");
        let extra = base_config(bootstrap, &flags.config);
        for (k, v) in extra.config_map() {
            c.set(k, v);
        }
        let counts = Arc::new(DeliveryCounts::default());
        let producer: BaseProducer<ProducerCtx> = c
            .create_with_context(ProducerCtx(counts.clone()))
            .map_err(|e| err("Kafka producer", e))?;
        check_topics(
            producer.client(),
            bootstrap,
            &[&flags.topic_txn, &flags.topic_steps],
        )?;
        Ok(EventProducer {
            producer,
            counts,
            topic_steps: flags.topic_steps.clone(),
            topic_txn: flags.topic_txn.clone(),
            sent: 0,
        })
    }

    /// Sends every line of `buf` as one message. A line that is not an event goes
    /// to the steps topic without a key, so consumers count it as malformed.
    pub fn send_lines(&mut self, buf: &[u8]) -> Result<(), Error> {
        for line in buf.split(|&b| b == b'\n') {
            if is_blank(line) {
                continue;
            }
            let (topic, key) = match parse_line(line) {
                Ok(ev) => {
                    let topic = match ev.kind {
                        EventType::TransactionOpen | EventType::TransactionClose => &self.topic_txn,
                        _ => &self.topic_steps,
                    };
                    (topic, Some(ev.txn_id))
                }
                Err(_) => (&self.topic_steps, None),
            };
            let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic).payload(line);
            if let Some(k) = &key {
                record = record.key(k.as_bytes());
            }
            loop {
                match self.producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                        // The local queue is full: serve delivery reports, retry.
                        self.producer.poll(Duration::from_millis(50));
                        record = r;
                    }
                    Err((e, _)) => return Err(err("sending to Kafka", e)),
                }
            }
            self.sent += 1;
        }
        self.producer.poll(Duration::ZERO);
        Ok(())
    }

    /// Waits until every message is delivered or has failed; an error says how
    /// many were not delivered.
    pub fn finish(self, timeout: Duration) -> Result<Delivered, Error> {
        let flushed = self.producer.flush(timeout);
        let delivered = self.counts.delivered.load(Ordering::Relaxed);
        let undelivered = self.sent.saturating_sub(delivered);
        if undelivered > 0 || flushed.is_err() {
            let why = lock(&self.counts.first_error)
                .clone()
                .or_else(|| flushed.err().map(|e| e.to_string()))
                .unwrap_or_else(|| "not confirmed in time".into());
            return Err(Error(format!(
                "{undelivered} of {} events were not delivered to Kafka: {why}",
                self.sent
            )));
        }
        Ok(Delivered {
            sent: self.sent,
            delivered,
        })
    }
}

// ---------------------------------------------------------------- consumer

/// What the rebalance callback saw, for the loop to act on after `poll`.
#[derive(Default)]
struct Shared {
    /// Next offset to commit per (topic, partition): one past the last event
    /// handed on; and whether the partition is still ours (a revoked one whose
    /// commit the broker refused waits for the next commit, then goes).
    applied: FxHashMap<(String, i32), (i64, bool)>,
    assigned: Vec<(String, i32)>,
    revoked: Vec<(String, i32)>,
    high: FxHashMap<(String, i32), i64>,
    errors: Vec<String>,
    commit_error: Option<String>,
}

impl Shared {
    /// The applied offsets of the partitions `pick(topic, partition, owned)`
    /// chooses, as a list to commit.
    fn offsets(&self, pick: impl Fn(&str, i32, bool) -> bool) -> TopicPartitionList {
        let mut tpl = TopicPartitionList::new();
        for ((t, p), &(off, owned)) in &self.applied {
            if pick(t, *p, owned) {
                let _ = tpl.add_partition_offset(t, *p, Offset::Offset(off));
            }
        }
        tpl
    }
}

struct ConsumerCtx {
    shared: Mutex<Shared>,
    from_beginning: AtomicBool,
}

impl ConsumerCtx {
    /// Commits the applied offsets (of the partitions in `only`, if given);
    /// false when the broker refused.
    fn commit(
        &self,
        consumer: &BaseConsumer<ConsumerCtx>,
        only: Option<&TopicPartitionList>,
    ) -> bool {
        let tpl = lock(&self.shared)
            .offsets(|t, p, _| only.is_none_or(|l| l.find_partition(t, p).is_some()));
        if tpl.count() == 0 {
            return true;
        }
        if let Err(e) = consumer.commit(&tpl, CommitMode::Sync) {
            lock(&self.shared).commit_error = Some(e.to_string());
            return false;
        }
        // Committed: offsets of partitions no longer ours must not be committed
        // again (the new owner moves on from them).
        lock(&self.shared).applied.retain(|_, (_, owned)| *owned);
        true
    }
}

impl ClientContext for ConsumerCtx {
    fn stats(&self, statistics: Statistics) {
        let mut shared = lock(&self.shared);
        for (name, topic) in statistics.topics {
            for (&p, part) in &topic.partitions {
                if p >= 0 && part.hi_offset >= 0 {
                    shared.high.insert((name.clone(), p), part.hi_offset);
                }
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        lock(&self.shared).errors.push(format!("{error}: {reason}"));
    }
}

impl ConsumerContext for ConsumerCtx {
    fn pre_rebalance(&self, consumer: &BaseConsumer<ConsumerCtx>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Revoke(tpl) => {
                // Processed offsets first, while the partitions are still ours.
                // A group in the middle of the rebalance may refuse: the offsets
                // then stay, to be committed at the next chance (a member may
                // commit any partition's offset), and the error is kept.
                let committed = self.commit(consumer, Some(tpl));
                let mut shared = lock(&self.shared);
                for e in tpl.elements() {
                    let key = (e.topic().to_string(), e.partition());
                    if committed {
                        shared.applied.remove(&key);
                    } else if let Some((_, owned)) = shared.applied.get_mut(&key) {
                        *owned = false;
                    }
                    shared.revoked.push(key);
                }
            }
            Rebalance::Assign(tpl) => {
                let from_start = self.from_beginning.swap(false, Ordering::Relaxed);
                let mut shared = lock(&self.shared);
                for mut e in tpl.elements() {
                    if from_start {
                        let _ = e.set_offset(Offset::Beginning);
                    }
                    let key = (e.topic().to_string(), e.partition());
                    // Ours again with a commit the broker refused: resume after
                    // what we applied, not from its stale offset.
                    if let Some((off, owned)) = shared.applied.get_mut(&key) {
                        if !from_start {
                            let _ = e.set_offset(Offset::Offset(*off));
                        }
                        *owned = true;
                    }
                    shared.assigned.push(key);
                }
            }
            Rebalance::Error(e) => lock(&self.shared).errors.push(e.to_string()),
        }
    }

    fn commit_callback(&self, result: rdkafka::error::KafkaResult<()>, _: &TopicPartitionList) {
        if let Err(e) = result {
            lock(&self.shared).commit_error = Some(e.to_string());
        }
    }
}

/// Where a consumed event came from, for error messages: `topic[partition]`,
/// with the offset in place of a line number.
pub struct Origin<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
}

impl fmt::Display for Origin<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]", self.topic, self.partition)
    }
}

/// One partition's lag: the latest offset the broker reported minus the next
/// offset to be handed on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lag {
    pub topic: String,
    pub partition: i32,
    pub lag: i64,
}

/// What the consumer reports once a second.
#[derive(Clone, Debug, Default)]
pub struct Status {
    pub lag: Vec<Lag>,
    /// Errors librdkafka reported since the last status (broker down, …).
    pub errors: Vec<String>,
}

/// What the caller does with the consumed stream.
pub trait Handler {
    /// One event or malformed message, in merge order.
    fn item(&mut self, item: Item<'_>, origin: &Origin<'_>) -> ControlFlow<()>;
    /// Called about once a second.
    fn status(&mut self, _status: &Status) {}
}

/// When to stop reading.
#[derive(Clone, Debug, Default)]
pub struct StopAt {
    /// After this many messages handed on.
    pub max_events: Option<u64>,
    /// After this long with nothing new (and everything buffered handed on).
    pub idle: Option<Duration>,
    /// When this flag is set (a signal).
    pub flag: Option<Arc<AtomicBool>>,
    /// Commit what was handed on this often while reading; otherwise only by
    /// [`EventConsumer::commit`] (and on a rebalance).
    pub commit_every: Option<Duration>,
    /// How long a silent partition may hold back the others; [`MAX_HOLD`] when
    /// not set. A batch reader can afford to wait longer than a live one.
    pub max_hold: Option<Duration>,
}

/// Why reading stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopped {
    MaxEvents,
    Idle,
    Flag,
    Handler,
}

enum Polled {
    Message(String, i32, i64, Vec<u8>),
    Eof(i32),
    Error(String),
    Nothing,
}

struct Pending {
    arrived: Instant,
    ts: i64,
    rank: u8,
    offset: i64,
    payload: Vec<u8>,
}

struct Part {
    topic: String,
    partition: i32,
    queue: VecDeque<Pending>,
    /// At the end of what the broker has, or silent past [`MAX_HOLD`].
    caught_up: bool,
    last_offset: Option<i64>,
    paused: bool,
}

/// A consumer-group member reading events; see the module docs.
pub struct EventConsumer {
    consumer: BaseConsumer<ConsumerCtx>,
    parts: Vec<Part>,
    buffered: usize,
    handed: u64,
}

impl EventConsumer {
    pub fn connect(flags: &ConsumerFlags) -> Result<EventConsumer, Error> {
        let Some(bootstrap) = flags.bootstrap.as_deref() else {
            return Err(Error("no --kafka-bootstrap".into()));
        };
        let mut c = ClientConfig::new();
        c.set("group.id", &flags.group);
        c.set("enable.auto.commit", "false");
        c.set("auto.offset.reset", "earliest");
        c.set("enable.partition.eof", "true");
        c.set("statistics.interval.ms", "1000");
        // A member that died is noticed in 10 s, so its partitions move on soon.
        c.set("session.timeout.ms", "10000");
        c.set("heartbeat.interval.ms", "1000");
        for (k, v) in base_config(bootstrap, &flags.config).config_map() {
            c.set(k, v);
        }
        let ctx = ConsumerCtx {
            shared: Mutex::new(Shared::default()),
            from_beginning: AtomicBool::new(flags.from_beginning),
        };
        let consumer: BaseConsumer<ConsumerCtx> = c
            .create_with_context(ctx)
            .map_err(|e| err("Kafka consumer", e))?;
        let topics: Vec<&str> = flags.topics.iter().map(String::as_str).collect();
        check_topics(consumer.client(), bootstrap, &topics)?;
        consumer
            .subscribe(&topics)
            .map_err(|e| err("subscribing", e))?;
        Ok(EventConsumer {
            consumer,
            parts: Vec::new(),
            buffered: 0,
            handed: 0,
        })
    }

    /// Reads until `stop` says so, handing events to `handler`; the caller
    /// commits with [`EventConsumer::commit`] once it has secured what it was
    /// handed. With an idle stop, a group that assigns no partition within
    /// [`JOIN_TIMEOUT`] is an error.
    pub fn run<H: Handler>(&mut self, stop: &StopAt, handler: &mut H) -> Result<Stopped, Error> {
        let started = Instant::now();
        let mut last_new = Instant::now();
        let mut held_since: Option<Instant> = None;
        let mut next_tick = Instant::now() + STATUS_INTERVAL;
        let mut next_commit = stop.commit_every.map(|d| Instant::now() + d);
        let why = loop {
            if stop
                .flag
                .as_ref()
                .is_some_and(|f| f.load(Ordering::Relaxed))
            {
                break Stopped::Flag;
            }
            let timeout = if self.buffered > 0 {
                Duration::from_millis(5)
            } else {
                Duration::from_millis(100)
            };
            let polled = match self.consumer.poll(timeout) {
                Some(Ok(m)) => Polled::Message(
                    m.topic().to_string(),
                    m.partition(),
                    m.offset(),
                    m.payload().unwrap_or_default().to_vec(),
                ),
                Some(Err(KafkaError::PartitionEOF(p))) => Polled::Eof(p),
                Some(Err(e)) => Polled::Error(e.to_string()),
                None => Polled::Nothing,
            };
            // Rebalances happen inside poll: apply them before the message. The
            // idle time counts from the first assignment (joining takes a while).
            if self.reconcile() {
                last_new = Instant::now();
            }
            match polled {
                Polled::Message(topic, p, offset, payload) => {
                    last_new = Instant::now();
                    self.buffer(topic, p, offset, payload);
                }
                Polled::Eof(p) => self.partition_eof(p),
                Polled::Error(e) => lock(&self.consumer.context().shared).errors.push(e),
                Polled::Nothing => {}
            }

            let flow = self.release(&mut held_since, stop, handler, false);
            if let Some(why) = flow {
                break why;
            }
            if let Some(idle) = stop.idle {
                if self.parts.is_empty() && started.elapsed() >= JOIN_TIMEOUT {
                    return Err(Error(format!(
                        "no partition was assigned to this consumer within {} s (is another member of the group holding them all, or the group coordinator down?)",
                        JOIN_TIMEOUT.as_secs()
                    )));
                }
                if last_new.elapsed() >= idle && !self.parts.is_empty() {
                    if let Some(why) = self.release(&mut held_since, stop, handler, true) {
                        break why;
                    }
                    break Stopped::Idle;
                }
            }
            if let (Some(at), Some(every)) = (next_commit, stop.commit_every) {
                if Instant::now() >= at {
                    next_commit = Some(Instant::now() + every);
                    self.commit_async();
                }
            }
            if Instant::now() >= next_tick {
                next_tick = Instant::now() + STATUS_INTERVAL;
                handler.status(&self.status());
            }
        };
        handler.status(&self.status());
        Ok(why)
    }

    /// Commits the offsets of everything handed on, and waits for the broker.
    /// A group in the middle of a rebalance (another member leaving) refuses
    /// commits for a moment: take part in it and try again, for up to
    /// [`COMMIT_RETRY`]. Messages fetched meanwhile are not handed on, so not
    /// committed.
    pub fn commit(&mut self) -> Result<(), Error> {
        let ctx = self.consumer.context().clone();
        let deadline = Instant::now() + COMMIT_RETRY;
        let mut left = false;
        loop {
            lock(&ctx.shared).commit_error = None;
            ctx.commit(&self.consumer, None);
            let failed = lock(&ctx.shared).commit_error.take();
            match failed {
                None => return Ok(()),
                Some(e) if Instant::now() < deadline && rebalancing(&e) => {
                    if !left && Instant::now() + COMMIT_RETRY / 3 > deadline {
                        // Still refused: leave the group (we are done reading),
                        // and commit as a member of none, which a group with no
                        // members left accepts.
                        self.consumer.unsubscribe();
                        left = true;
                    }
                    let until = Instant::now() + Duration::from_millis(300);
                    while Instant::now() < until {
                        let _ = self.consumer.poll(Duration::from_millis(50));
                    }
                    // Partitions taken away meanwhile were committed on the way
                    // out, or wait in `applied` for this commit.
                    self.reconcile();
                }
                Some(e) => return Err(Error(format!("committing offsets: {e}"))),
            }
        }
    }

    /// Events handed on so far.
    pub fn handed(&self) -> u64 {
        self.handed
    }

    fn status(&self) -> Status {
        let mut shared = lock(&self.consumer.context().shared);
        let errors = std::mem::take(&mut shared.errors);
        let mut lag: Vec<Lag> = self
            .parts
            .iter()
            .filter_map(|part| {
                let key = (part.topic.clone(), part.partition);
                let high = *shared.high.get(&key)?;
                let next = shared
                    .applied
                    .get(&key)
                    .map(|&(off, _)| off)
                    .or(part.queue.front().map(|p| p.offset))?;
                Some(Lag {
                    topic: part.topic.clone(),
                    partition: part.partition,
                    lag: (high - next).max(0),
                })
            })
            .collect();
        lag.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        Status { lag, errors }
    }

    fn commit_async(&self) {
        // Partitions no longer ours wait for a synchronous commit.
        let tpl = lock(&self.consumer.context().shared).offsets(|_, _, owned| owned);
        if tpl.count() > 0 {
            if let Err(e) = self.consumer.commit(&tpl, CommitMode::Async) {
                lock(&self.consumer.context().shared).commit_error = Some(e.to_string());
            }
        }
    }

    /// Applies what the rebalance callback recorded: new partitions join the
    /// merge, revoked ones leave it with their unapplied events.
    /// True when partitions were assigned.
    fn reconcile(&mut self) -> bool {
        let (assigned, revoked) = {
            let mut shared = lock(&self.consumer.context().shared);
            if shared.assigned.is_empty() && shared.revoked.is_empty() {
                return false;
            }
            (
                std::mem::take(&mut shared.assigned),
                std::mem::take(&mut shared.revoked),
            )
        };
        for (t, p) in revoked {
            if let Some(i) = self.index(&t, p) {
                let gone = self.parts.swap_remove(i);
                self.buffered -= gone.queue.len();
            }
        }
        let any = !assigned.is_empty();
        for (t, p) in assigned {
            if self.index(&t, p).is_none() {
                self.parts.push(Part {
                    topic: t,
                    partition: p,
                    queue: VecDeque::new(),
                    caught_up: false,
                    last_offset: None,
                    paused: false,
                });
            }
        }
        any
    }

    fn index(&self, topic: &str, partition: i32) -> Option<usize> {
        self.parts
            .iter()
            .position(|x| x.partition == partition && x.topic == topic)
    }

    fn buffer(&mut self, topic: String, p: i32, offset: i64, payload: Vec<u8>) {
        let i = match self.index(&topic, p) {
            Some(i) => i,
            None => {
                self.parts.push(Part {
                    topic,
                    partition: p,
                    queue: VecDeque::new(),
                    caught_up: false,
                    last_offset: None,
                    paused: false,
                });
                self.parts.len() - 1
            }
        };
        let (ts, rank) = order_key(&payload);
        let part = &mut self.parts[i];
        part.caught_up = false;
        part.last_offset = Some(offset);
        part.queue.push_back(Pending {
            arrived: Instant::now(),
            ts,
            rank,
            offset,
            payload,
        });
        self.buffered += 1;
        if part.queue.len() >= PAUSE_AT && !part.paused {
            part.paused = true;
            let (topic, p) = (part.topic.clone(), part.partition);
            self.set_paused(&topic, p, true);
        }
    }

    fn set_paused(&self, topic: &str, partition: i32, pause: bool) {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(topic, partition);
        let result = if pause {
            self.consumer.pause(&tpl)
        } else {
            self.consumer.resume(&tpl)
        };
        if let Err(e) = result {
            lock(&self.consumer.context().shared)
                .errors
                .push(format!("pausing {topic}[{partition}]: {e}"));
        }
    }

    /// librdkafka's end-of-partition event names the partition but not the topic:
    /// the partitions of that number that are at the broker's high-water mark are
    /// the ones at their end.
    fn partition_eof(&mut self, p: i32) {
        let native = self.consumer.client().native_ptr();
        for part in self.parts.iter_mut().filter(|x| x.partition == p) {
            if part.caught_up {
                continue;
            }
            let Ok(topic) = CString::new(part.topic.as_str()) else {
                continue;
            };
            let (mut lo, mut hi) = (-1i64, -1i64);
            // SAFETY: `native` is this live consumer's handle, `topic` a valid C
            // string for the call, and the two outputs live on this stack frame.
            let rc = unsafe {
                rdkafka_sys::rd_kafka_get_watermark_offsets(
                    native,
                    topic.as_ptr(),
                    p,
                    &mut lo,
                    &mut hi,
                )
            };
            if rc != rdkafka_sys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR || hi < 0 {
                continue;
            }
            let next = match part.last_offset {
                Some(o) => o + 1,
                None => position(&self.consumer, &part.topic, p).unwrap_or(-1),
            };
            if next >= hi || hi == lo {
                part.caught_up = true;
            }
        }
    }

    /// Hands on events in merge order while the merge allows; `drain` hands on
    /// everything buffered.
    fn release<H: Handler>(
        &mut self,
        held_since: &mut Option<Instant>,
        stop: &StopAt,
        handler: &mut H,
        drain: bool,
    ) -> Option<Stopped> {
        let mut applied: Vec<(usize, i64)> = Vec::new();
        let mut result = None;
        loop {
            if stop.max_events.is_some_and(|n| self.handed >= n) {
                result = Some(Stopped::MaxEvents);
                break;
            }
            // A partition with nothing buffered holds the merge back: until it
            // sends or reaches its end, or, at its end already, for LIVE_HOLD
            // after the earliest buffered event arrived (live, the producer
            // writes both topics at once and their fetches land together).
            let oldest = self
                .parts
                .iter()
                .filter_map(|x| x.queue.front().map(|h| h.arrived))
                .min();
            let fresh = oldest.is_some_and(|t| t.elapsed() < LIVE_HOLD);
            let waiting = self
                .parts
                .iter()
                .any(|x| x.queue.is_empty() && (!x.caught_up || fresh));
            if waiting && !drain && self.buffered < MAX_BUFFERED {
                if self.buffered == 0 {
                    *held_since = None;
                    break;
                }
                let since = *held_since.get_or_insert_with(Instant::now);
                if since.elapsed() < stop.max_hold.unwrap_or(MAX_HOLD) {
                    break;
                }
                if fresh {
                    break;
                }
                // Silent too long: stop waiting for it until it sends again.
                for x in self.parts.iter_mut().filter(|x| x.queue.is_empty()) {
                    x.caught_up = true;
                }
            }
            *held_since = None;
            let Some(i) = self
                .parts
                .iter()
                .enumerate()
                .filter_map(|(i, x)| x.queue.front().map(|h| ((h.ts, h.rank, i), i)))
                .min()
                .map(|(_, i)| i)
            else {
                break;
            };
            let Some(msg) = self.parts[i].queue.pop_front() else {
                break;
            };
            self.buffered -= 1;
            self.handed += 1;
            if self.parts[i].paused && self.parts[i].queue.len() <= PAUSE_AT / 2 {
                self.parts[i].paused = false;
                let (topic, p) = (self.parts[i].topic.clone(), self.parts[i].partition);
                self.set_paused(&topic, p, false);
            }
            let part = &self.parts[i];
            let origin = Origin {
                topic: &part.topic,
                partition: part.partition,
                offset: msg.offset,
            };
            let flow = hand_on(&msg.payload, &origin, handler);
            applied.push((i, msg.offset + 1));
            if flow.is_break() {
                result = Some(Stopped::Handler);
                break;
            }
        }
        if !applied.is_empty() {
            let mut shared = lock(&self.consumer.context().shared);
            for (i, next) in applied {
                let part = &self.parts[i];
                shared
                    .applied
                    .insert((part.topic.clone(), part.partition), (next, true));
            }
        }
        result
    }
}

/// A commit refused because the group is changing: worth another try once this
/// member has taken part in the rebalance.
fn rebalancing(error: &str) -> bool {
    [
        "RebalanceInProgress",
        "IllegalGeneration",
        "UnknownMemberId",
    ]
    .iter()
    .any(|code| error.contains(code))
}

/// The position (next offset to fetch) of one partition.
fn position(consumer: &BaseConsumer<ConsumerCtx>, topic: &str, p: i32) -> Option<i64> {
    // The list is dropped here, never outliving the consumer.
    let tpl = consumer.position().ok()?;
    let off = tpl.find_partition(topic, p)?.offset();
    match off {
        Offset::Offset(o) => Some(o),
        _ => None,
    }
}

/// The merge's sort key of a message: its first event's time, and at equal
/// times an open first and a close last. Unparseable messages go first.
fn order_key(payload: &[u8]) -> (i64, u8) {
    let first = payload
        .split(|&b| b == b'\n')
        .find(|l| !is_blank(l))
        .unwrap_or_default();
    match parse_line(first) {
        Ok(ev) => {
            let rank = match ev.kind {
                EventType::TransactionOpen => 0,
                EventType::TransactionClose => 2,
                _ => 1,
            };
            (ev.ts_ms, rank)
        }
        Err(_) => (i64::MIN, 0),
    }
}

/// Hands every line of a message to the handler.
fn hand_on<H: Handler>(payload: &[u8], origin: &Origin<'_>, handler: &mut H) -> ControlFlow<()> {
    let mut any = false;
    for line in payload.split(|&b| b == b'\n') {
        if is_blank(line) {
            continue;
        }
        any = true;
        let item = match parse_line(line) {
            Ok(ev) => Item::Event(ev),
            Err(error) => Item::Malformed {
                line_no: origin.offset as u64,
                error,
            },
        };
        handler.item(item, origin)?;
    }
    if !any {
        // An empty message is malformed too, not silently skipped.
        let error = parse_line(b"").err().unwrap_or(ParseError::NotJson {
            message: "empty message".into(),
            column: 1,
        });
        let item = Item::Malformed {
            line_no: origin.offset as u64,
            error,
        };
        handler.item(item, origin)?;
    }
    ControlFlow::Continue(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_key_puts_open_before_steps_before_close() {
        let open = br#"{"type":"transaction_open","txn_id":"a","ts_ms":5}"#;
        let step = br#"{"type":"step_open","txn_id":"a","ts_ms":5,"step":"s"}"#;
        let close = br#"{"type":"transaction_close","txn_id":"a","ts_ms":5}"#;
        assert_eq!(order_key(open), (5, 0));
        assert_eq!(order_key(step), (5, 1));
        assert_eq!(order_key(close), (5, 2));
        assert_eq!(order_key(b"junk"), (i64::MIN, 0));
    }

    fn parser(args: &[&str]) -> Parser {
        Parser::from_iter(std::iter::once("wf").chain(args.iter().copied()))
    }

    #[test]
    fn consumer_flags_default_to_both_topics() {
        let mut f = ConsumerFlags::new("g");
        let mut p = parser(&["localhost:9092"]);
        assert!(f.take_long("kafka-bootstrap", &mut p).unwrap());
        f.finish().unwrap();
        assert_eq!(f.topics, [DEFAULT_TOPIC_TXN, DEFAULT_TOPIC_STEPS]);
        assert_eq!(f.group, "g");
    }

    #[test]
    fn kafka_topics_takes_the_seed_form_and_commas() {
        let mut f = ConsumerFlags::new("g");
        let mut p = parser(&["a", "b,c", "--x"]);
        assert!(f.take_long("kafka-topics", &mut p).unwrap());
        assert_eq!(f.topics, ["a", "b", "c"]);
    }

    #[test]
    fn kafka_flags_without_bootstrap_are_an_error() {
        let mut f = ConsumerFlags::new("g");
        f.from_beginning = true;
        assert_eq!(
            f.finish().unwrap_err(),
            "the Kafka flags need --kafka-bootstrap"
        );
    }

    #[test]
    fn config_pairs_need_an_equals_sign() {
        let mut p = parser(&["linger.ms=5"]);
        assert_eq!(
            config_pair(&mut p, "--kafka-config").unwrap(),
            ("linger.ms".to_string(), "5".to_string())
        );
        let mut p = parser(&["linger.ms"]);
        assert_eq!(
            config_pair(&mut p, "--kafka-config").unwrap_err(),
            "invalid value 'linger.ms' for --kafka-config: expected KEY=VALUE (a librdkafka setting)"
        );
    }

    #[test]
    fn seconds_are_bare_numbers_or_durations() {
        assert_eq!(
            seconds(&mut parser(&["5"]), "--t").unwrap(),
            Duration::from_secs(5)
        );
        assert_eq!(
            seconds(&mut parser(&["250ms"]), "--t").unwrap(),
            Duration::from_millis(250)
        );
    }
}
