//! Instance slots shared fairly between tenants.
//!
//! The pooling allocator has a fixed number of instance slots. Each tenant (an
//! organization, or the host itself) may hold at most `per_tenant` of them at
//! once, and when slots are short the free ones go round-robin to the
//! tenants that wait, oldest waiter first within a tenant. A tenant that
//! floods the sandbox therefore queues behind itself: another tenant's call
//! waits for at most one freed slot per busy tenant, not for the flood.
//!
//! Every operation takes one short lock; no loop runs longer than the number
//! of waiters it hands slots to (each at most once) plus the tenants it
//! visits.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::oneshot;

/// The slots and their queues. Cheap to share behind an `Arc`.
pub(crate) struct Slots {
    total: usize,
    per_tenant: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    free: usize,
    tenants: HashMap<Arc<str>, Tenant>,
    /// Tenants with waiters, in the order they get their next slot. A tenant
    /// at its share stays off this list until it releases a slot.
    turns: VecDeque<Arc<str>>,
    waiting: usize,
    next_waiter: u64,
}

#[derive(Default)]
struct Tenant {
    active: usize,
    waiters: VecDeque<Waiter>,
    /// Whether the tenant is on `turns` right now.
    queued: bool,
}

struct Waiter {
    id: u64,
    grant: oneshot::Sender<Slot>,
}

/// One held slot, given back on drop.
pub(crate) struct Slot {
    slots: Arc<Slots>,
    tenant: Arc<str>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut state = self.slots.lock();
        state.free += 1;
        let tenant = state
            .tenants
            .get_mut(&self.tenant)
            .expect("a tenant holding a slot is known");
        tenant.active -= 1;
        let (idle, has_waiters, queued) = (
            tenant.active == 0 && tenant.waiters.is_empty(),
            !tenant.waiters.is_empty(),
            tenant.queued,
        );
        if idle {
            state.tenants.remove(&self.tenant);
        } else if has_waiters && !queued {
            // Below its share again: back in the rotation.
            state.tenants.get_mut(&self.tenant).expect("present").queued = true;
            state.turns.push_back(self.tenant.clone());
        }
        let undelivered = Slots::dispatch(&self.slots, &mut state);
        drop(state);
        // Slots whose waiter gave up between being chosen and being told are
        // dropped here, outside the lock, which dispatches them again.
        drop(undelivered);
    }
}

impl Slots {
    pub fn new(total: usize, per_tenant: usize) -> Arc<Slots> {
        Arc::new(Slots {
            total,
            per_tenant: per_tenant.clamp(1, total.max(1)),
            state: Mutex::new(State {
                free: total,
                ..State::default()
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Slots held right now.
    pub fn active(&self) -> usize {
        self.total - self.lock().free
    }

    /// Calls waiting for a slot right now.
    pub fn waiting(&self) -> usize {
        self.lock().waiting
    }

    /// Slots held and calls waiting, per tenant with either.
    pub fn by_tenant(&self) -> Vec<TenantLoad> {
        let state = self.lock();
        let mut loads: Vec<TenantLoad> = state
            .tenants
            .iter()
            .map(|(name, t)| TenantLoad {
                tenant: name.to_string(),
                active: t.active,
                waiting: t.waiters.len(),
            })
            .collect();
        loads.sort_by(|a, b| a.tenant.cmp(&b.tenant));
        loads
    }

    /// Takes a slot for `tenant` now if one is free and nobody who should go
    /// first is waiting; otherwise queues and waits for one. Dropping the
    /// returned future leaves the queue.
    pub async fn acquire(self: &Arc<Self>, tenant: &str) -> Slot {
        let (id, granted) = {
            let mut state = self.lock();
            let nobody_waits = state.turns.is_empty();
            let free = state.free > 0;
            let entry = state.tenants.entry(Arc::from(tenant)).or_default();
            if free && nobody_waits && entry.waiters.is_empty() && entry.active < self.per_tenant {
                entry.active += 1;
                state.free -= 1;
                return Slot {
                    slots: self.clone(),
                    tenant: Arc::from(tenant),
                };
            }
            let (tx, rx) = oneshot::channel();
            let id = state.next_waiter;
            state.next_waiter += 1;
            state.waiting += 1;
            let key: Arc<str> = Arc::from(tenant);
            let entry = state.tenants.get_mut(&key).expect("just inserted");
            entry.waiters.push_back(Waiter { id, grant: tx });
            if !entry.queued && entry.active < self.per_tenant {
                entry.queued = true;
                state.turns.push_back(key);
            }
            // Slots may be free while others wait their turn behind tenants
            // at their share; hand out what can be handed out.
            let undelivered = Slots::dispatch(self, &mut state);
            drop(state);
            drop(undelivered);
            (id, rx)
        };
        let leave = LeaveOnDrop {
            slots: self,
            tenant,
            id,
        };
        let slot = granted
            .await
            .expect("a waiter is granted or removed, never dropped");
        std::mem::forget(leave);
        slot
    }

    /// Hands free slots to waiters in turn. Returns the slots whose waiter
    /// had already gone, for the caller to drop once it released the lock.
    fn dispatch(this: &Arc<Self>, state: &mut State) -> Vec<Slot> {
        let mut undelivered = Vec::new();
        while state.free > 0 {
            let Some(name) = state.turns.pop_front() else {
                break;
            };
            let tenant = state
                .tenants
                .get_mut(&name)
                .expect("a queued tenant is known");
            tenant.queued = false;
            let Some(waiter) = tenant.waiters.pop_front() else {
                continue;
            };
            tenant.active += 1;
            if !tenant.waiters.is_empty() && tenant.active < this.per_tenant {
                tenant.queued = true;
                state.turns.push_back(name.clone());
            }
            state.free -= 1;
            state.waiting -= 1;
            let slot = Slot {
                slots: this.clone(),
                tenant: name,
            };
            if let Err(slot) = waiter.grant.send(slot) {
                undelivered.push(slot);
            }
        }
        undelivered
    }
}

/// Removes a waiter that stops waiting (its call's deadline passed, or the
/// caller went away) from its tenant's queue.
struct LeaveOnDrop<'a> {
    slots: &'a Arc<Slots>,
    tenant: &'a str,
    id: u64,
}

impl Drop for LeaveOnDrop<'_> {
    fn drop(&mut self) {
        let mut state = self.slots.lock();
        let Some(tenant) = state.tenants.get_mut(self.tenant) else {
            return;
        };
        let before = tenant.waiters.len();
        tenant.waiters.retain(|w| w.id != self.id);
        let removed = before - tenant.waiters.len();
        let idle = tenant.active == 0 && tenant.waiters.is_empty();
        state.waiting -= removed;
        if idle {
            state.tenants.remove(self.tenant);
            state.turns.retain(|t| &**t != self.tenant);
        }
        // A waiter granted a slot but dropped before reading it: the slot
        // comes back through its own drop, which dispatches it.
    }
}

/// One tenant's share of the slots right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantLoad {
    /// The tenant: an organization id, or the host's own name.
    pub tenant: String,
    /// Slots it holds.
    pub active: usize,
    /// Its calls waiting for a slot.
    pub waiting: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn hold(slots: &Arc<Slots>, tenant: &str, n: usize) -> Vec<Slot> {
        let mut held = Vec::new();
        for _ in 0..n {
            held.push(slots.acquire(tenant).await);
        }
        held
    }

    #[tokio::test]
    async fn a_tenant_never_holds_more_than_its_share() {
        let slots = Slots::new(8, 3);
        let _b = hold(&slots, "b", 3).await;
        let fourth = tokio::time::timeout(Duration::from_millis(50), slots.acquire("b")).await;
        assert!(fourth.is_err(), "a fourth slot for b while 5 are free");
        assert_eq!(slots.active(), 3);
        assert_eq!(slots.waiting(), 0, "the timed-out waiter left the queue");
        let _a = hold(&slots, "a", 3).await;
        assert_eq!(slots.active(), 6);
    }

    #[tokio::test]
    async fn freed_slots_go_round_robin_to_waiting_tenants() {
        let slots = Slots::new(4, 4);
        let mut b = hold(&slots, "b", 4).await;
        // b queues ten more, then a queues one: a is next, not eleventh.
        let mut b_waiting = Vec::new();
        for _ in 0..10 {
            let slots = slots.clone();
            b_waiting.push(tokio::spawn(async move { slots.acquire("b").await }));
        }
        tokio::task::yield_now().await;
        while slots.waiting() < 10 {
            tokio::task::yield_now().await;
        }
        let a = {
            let slots = slots.clone();
            tokio::spawn(async move { slots.acquire("a").await })
        };
        while slots.waiting() < 11 {
            tokio::task::yield_now().await;
        }
        // b is at its share, so the first slot b frees goes to a.
        drop(b.pop());
        let a_slot = tokio::time::timeout(Duration::from_secs(5), a)
            .await
            .expect("a got the first freed slot")
            .unwrap();
        assert_eq!(slots.waiting(), 10, "b's waiters still wait");
        let loads = slots.by_tenant();
        assert_eq!(
            loads.iter().find(|l| l.tenant == "a").map(|l| l.active),
            Some(1)
        );
        drop(a_slot);
        drop(b);
        for task in b_waiting {
            drop(task.await.unwrap());
        }
        assert_eq!(slots.active(), 0);
        assert_eq!(slots.waiting(), 0);
        assert!(slots.by_tenant().is_empty(), "idle tenants are forgotten");
    }

    #[tokio::test]
    async fn a_slot_granted_to_a_waiter_that_left_goes_to_the_next() {
        let slots = Slots::new(1, 1);
        let held = slots.acquire("a").await;
        let gone = {
            let slots = slots.clone();
            tokio::spawn(async move { slots.acquire("b").await })
        };
        while slots.waiting() < 1 {
            tokio::task::yield_now().await;
        }
        gone.abort();
        let _ = gone.await;
        let next = {
            let slots = slots.clone();
            tokio::spawn(async move { slots.acquire("c").await })
        };
        drop(held);
        let _c = tokio::time::timeout(Duration::from_secs(5), next)
            .await
            .expect("c got the slot")
            .unwrap();
        assert_eq!(slots.active(), 1);
        assert_eq!(slots.waiting(), 0);
    }
}
