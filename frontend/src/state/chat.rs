//! The messaging store: conversations, their messages and details, who is
//! typing, and the connection state. Fed by the API (`api.rs`) and by the
//! one event stream (`state::realtime`); components only read it and call
//! its methods.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::dto::conversations::{
    ConversationDetail, ConversationSummary, LastMessage, UpdateConversation, UpdateSettings,
};
use shared::dto::messages::{MessageDto, PinDto, ReactionSummary, SendMessage};
use shared::dto::users::PresenceDto;
use shared::events::Event;

use crate::api::{self, ApiError};

/// Messages of one page request.
const PAGE_SIZE: u32 = 50;
/// Pages of 100 conversations loaded for the list after the first one.
const MAX_LIST_PAGES: usize = 20;
/// How long a typing signal is shown without a new one.
const TYPING_TTL_MS: f64 = 5_000.0;
/// Longest list preview, in characters (as the server cuts them).
const PREVIEW_CHARS: usize = 120;

/// The loaded part of one conversation's history.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Oldest first.
    pub items: Vec<MessageDto>,
    /// Whether older messages exist on the server.
    pub has_more: bool,
    pub loading_older: bool,
    /// The last load failed.
    pub error: Option<ApiError>,
}

/// Someone typing in a conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Typist {
    pub user_id: i64,
    pub name: String,
    /// `Date.now()` after which the signal is stale.
    expires_at: f64,
}

/// State of the event stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    /// The first connection is being made.
    Connecting,
    Open,
    /// Lost; the browser (or we) reconnect.
    Lost,
}

#[derive(Debug, Clone, Copy)]
pub struct ChatStore {
    /// The caller's conversations, most recently active first.
    pub conversations: RwSignal<Vec<ConversationSummary>>,
    pub list_loaded: RwSignal<bool>,
    pub list_error: RwSignal<Option<ApiError>>,
    /// Loaded histories by conversation id.
    pub histories: RwSignal<HashMap<i64, History>>,
    /// Loaded details (members, read positions) by conversation id.
    pub details: RwSignal<HashMap<i64, ConversationDetail>>,
    /// Conversations whose details the server refused (gone, not a member).
    pub missing: RwSignal<Vec<i64>>,
    pub typing: RwSignal<HashMap<i64, Vec<Typist>>>,
    pub connection: RwSignal<Connection>,
    /// The conversation shown in the chat pane.
    pub open: RwSignal<Option<i64>>,
    /// Ticks every 30 s, for relative times.
    pub now: RwSignal<DateTime<Utc>>,
    /// The signed-in user's id.
    pub me: RwSignal<Option<i64>>,
    /// The caller's archived conversations (loaded when the archive is shown).
    pub archived: RwSignal<Vec<ConversationSummary>>,
    pub archived_loaded: RwSignal<bool>,
    /// The list shows the archive instead of the main list.
    pub show_archived: RwSignal<bool>,
    /// Presence of the people on screen, by user id.
    pub presence: RwSignal<HashMap<i64, PresenceDto>>,
    /// Pinned messages by conversation id (newest pin first), once loaded.
    pub pins: RwSignal<HashMap<i64, Vec<PinDto>>>,
    /// The message just jumped to (highlighted for a moment).
    pub flash: RwSignal<Option<i64>>,
    /// Unsent composer text per conversation.
    drafts: StoredValue<HashMap<i64, String>>,
    /// Bumped by every list load, so an older answer cannot win.
    list_generation: StoredValue<u64>,
}

impl ChatStore {
    pub fn new() -> Self {
        Self {
            conversations: RwSignal::new(Vec::new()),
            list_loaded: RwSignal::new(false),
            list_error: RwSignal::new(None),
            histories: RwSignal::new(HashMap::new()),
            details: RwSignal::new(HashMap::new()),
            missing: RwSignal::new(Vec::new()),
            typing: RwSignal::new(HashMap::new()),
            connection: RwSignal::new(Connection::Connecting),
            open: RwSignal::new(None),
            now: RwSignal::new(crate::time::now()),
            me: RwSignal::new(None),
            archived: RwSignal::new(Vec::new()),
            archived_loaded: RwSignal::new(false),
            show_archived: RwSignal::new(false),
            presence: RwSignal::new(HashMap::new()),
            pins: RwSignal::new(HashMap::new()),
            flash: RwSignal::new(None),
            drafts: StoredValue::new(HashMap::new()),
            list_generation: StoredValue::new(0),
        }
    }

    /// Forgets everything (sign-out).
    pub fn clear(self) {
        self.list_generation.update_value(|g| *g += 1);
        self.conversations.set(Vec::new());
        self.list_loaded.set(false);
        self.list_error.set(None);
        self.histories.set(HashMap::new());
        self.details.set(HashMap::new());
        self.missing.set(Vec::new());
        self.typing.set(HashMap::new());
        self.drafts.set_value(HashMap::new());
        self.me.set(None);
        self.archived.set(Vec::new());
        self.archived_loaded.set(false);
        self.show_archived.set(false);
        self.presence.set(HashMap::new());
        self.pins.set(HashMap::new());
    }

    // ---- Loading ---------------------------------------------------------

    /// (Re)loads the conversation list.
    pub fn load_list(self) {
        self.list_generation.update_value(|g| *g += 1);
        let generation = self.list_generation.get_value();
        spawn_local(async move {
            // Page by page, most recently active first: the first page is
            // shown as soon as it arrives (the first screen does not wait
            // for a long list), the whole list replaces it at the end.
            let mut fresh: Vec<ConversationSummary> = Vec::new();
            let mut cursor: Option<String> = None;
            for page_number in 0..=MAX_LIST_PAGES {
                let result = api::conversations(false, cursor.as_deref()).await;
                if self.list_generation.get_value() != generation {
                    return;
                }
                let page = match result {
                    Ok(page) => page,
                    Err(err) => {
                        leptos::logging::warn!("loading conversations failed: {err}");
                        self.list_error.set(Some(err));
                        self.list_loaded.set(true);
                        return;
                    }
                };
                fresh.extend(page.items);
                cursor = page.next_cursor;
                let complete = cursor.is_none() || page_number == MAX_LIST_PAGES;
                if complete || page_number == 0 {
                    self.conversations
                        .update(|list| merge_list(list, fresh.clone(), complete));
                    self.list_error.set(None);
                    self.list_loaded.set(true);
                }
                if complete {
                    break;
                }
            }
            self.refresh_presence();
        });
    }

    /// (Re)loads the archived conversations.
    pub fn load_archived(self) {
        spawn_local(async move {
            match api::all_conversations(true).await {
                Ok(page) => {
                    let mut items = page.items;
                    sort(&mut items);
                    self.archived.set(items);
                    self.archived_loaded.set(true);
                    self.refresh_presence();
                }
                Err(err) => {
                    leptos::logging::warn!("loading archived conversations failed: {err}");
                    self.archived_loaded.set(true);
                }
            }
        });
    }

    /// The list entry of a conversation, main or archived.
    pub fn summary(self, id: i64) -> Option<ConversationSummary> {
        self.conversations
            .with(|l| l.iter().find(|c| c.id == id).cloned())
            .or_else(|| {
                self.archived
                    .with(|l| l.iter().find(|c| c.id == id).cloned())
            })
    }

    /// Asks for the presence of the people on screen: the other person of
    /// every listed 1:1 and the members of loaded conversations.
    pub fn refresh_presence(self) {
        let me = self.me.get_untracked();
        let mut ids: Vec<i64> = Vec::new();
        let mut seen: HashSet<i64> = HashSet::new();
        let mut add = |id: i64| {
            if Some(id) != me && seen.insert(id) {
                ids.push(id);
            }
        };
        for list in [self.conversations, self.archived] {
            list.with_untracked(|l| {
                for c in l.iter().filter(|c| !c.is_group) {
                    c.members.iter().for_each(|m| add(m.id));
                }
            });
        }
        self.details.with_untracked(|d| {
            for detail in d.values() {
                detail.members.iter().for_each(|m| add(m.id));
            }
        });
        self.ask_presence(ids);
    }

    /// Asks for the presence of `ids` (in chunks the API takes).
    fn ask_presence(self, ids: Vec<i64>) {
        if ids.is_empty() {
            return;
        }
        spawn_local(async move {
            match api::presence(&ids).await {
                Ok(found) => self.presence.update(|p| {
                    for dto in found {
                        p.insert(dto.user_id, dto);
                    }
                }),
                Err(err) => leptos::logging::warn!("presence lookup failed: {err}"),
            }
        });
    }

    /// Loads the pinned messages of a conversation.
    pub fn load_pins(self, id: i64) {
        spawn_local(async move {
            match api::pins(id).await {
                Ok(pins) => self.pins.update(|p| {
                    p.insert(id, pins);
                }),
                Err(err) => leptos::logging::warn!("loading pins of {id} failed: {err}"),
            }
        });
    }

    /// Loads a conversation's details and newest messages, unless loaded.
    pub fn ensure_loaded(self, id: i64) {
        if !self.details.with_untracked(|d| d.contains_key(&id)) {
            self.load_detail(id);
        }
        if !self.histories.with_untracked(|h| h.contains_key(&id)) {
            self.load_latest(id);
        }
        if !self.pins.with_untracked(|p| p.contains_key(&id)) {
            self.load_pins(id);
        }
    }

    pub fn load_detail(self, id: i64) {
        spawn_local(async move {
            match api::conversation(id).await {
                Ok(detail) => {
                    self.missing.update(|m| m.retain(|x| *x != id));
                    // Only the members whose presence is not known yet: the
                    // people of the whole list were asked for already.
                    let me = self.me.get_untracked();
                    let unknown: Vec<i64> = self.presence.with_untracked(|p| {
                        detail
                            .members
                            .iter()
                            .map(|m| m.id)
                            .filter(|id| Some(*id) != me && !p.contains_key(id))
                            .collect()
                    });
                    self.details.update(|d| {
                        d.insert(id, detail);
                    });
                    self.ask_presence(unknown);
                }
                Err(err) => {
                    leptos::logging::warn!("loading conversation {id} failed: {err}");
                    if matches!(err, ApiError::Problem { .. }) {
                        self.missing.update(|m| {
                            if !m.contains(&id) {
                                m.push(id);
                            }
                        });
                    }
                }
            }
        });
    }

    /// Loads the newest page of a conversation (replacing what was loaded).
    pub fn load_latest(self, id: i64) {
        spawn_local(async move {
            let result = api::messages(id, None, PAGE_SIZE).await;
            self.histories.update(|h| {
                let history = h.entry(id).or_default();
                match result {
                    Ok(page) => {
                        let mut items = page.items;
                        items.reverse();
                        history.items = items;
                        history.has_more = page.has_more;
                        history.error = None;
                    }
                    Err(err) => history.error = Some(err),
                }
            });
            self.mark_read_if_open(id);
        });
    }

    /// Makes sure a message is loaded, paging back as far as needed (for
    /// jumping to a pin or a quoted message); true when it is there.
    pub async fn reveal(self, id: i64, message_id: i64) -> bool {
        // A bounded walk: 100 pages of 50 messages.
        for _ in 0..100 {
            let (found, more) = self.histories.with_untracked(|h| {
                h.get(&id).map_or((false, false), |history| {
                    (
                        history.items.iter().any(|m| m.id == message_id),
                        history.has_more,
                    )
                })
            });
            if found {
                return true;
            }
            if !more {
                return false;
            }
            let before = self
                .histories
                .with_untracked(|h| h.get(&id).and_then(|x| x.items.first().map(|m| m.id)));
            let Ok(page) = api::messages(id, before, PAGE_SIZE).await else {
                return false;
            };
            self.histories.update(|h| {
                if let Some(history) = h.get_mut(&id) {
                    let mut older: Vec<MessageDto> = page
                        .items
                        .into_iter()
                        .filter(|m| !history.items.iter().any(|x| x.id == m.id))
                        .collect();
                    older.reverse();
                    older.append(&mut history.items);
                    history.items = older;
                    history.has_more = page.has_more;
                }
            });
        }
        false
    }

    /// Loads the page before the oldest loaded message.
    pub fn load_older(self, id: i64) {
        let before = self.histories.with_untracked(|h| {
            h.get(&id)
                .filter(|history| history.has_more && !history.loading_older)
                .and_then(|history| history.items.first().map(|m| m.id))
        });
        let Some(before) = before else {
            return;
        };
        self.histories.update(|h| {
            if let Some(history) = h.get_mut(&id) {
                history.loading_older = true;
            }
        });
        spawn_local(async move {
            let result = api::messages(id, Some(before), PAGE_SIZE).await;
            self.histories.update(|h| {
                let Some(history) = h.get_mut(&id) else {
                    return;
                };
                history.loading_older = false;
                match result {
                    Ok(page) => {
                        let mut older: Vec<MessageDto> = page
                            .items
                            .into_iter()
                            .filter(|m| !history.items.iter().any(|x| x.id == m.id))
                            .collect();
                        older.reverse();
                        older.append(&mut history.items);
                        history.items = older;
                        history.has_more = page.has_more;
                    }
                    Err(err) => history.error = Some(err),
                }
            });
        });
    }

    // ---- Actions ---------------------------------------------------------

    /// Sends a message; on success it is in the store.
    pub async fn send(self, id: i64, request: SendMessage) -> Result<(), ApiError> {
        let message = api::send_message(id, &request).await?;
        self.upsert_message(message, false);
        Ok(())
    }

    pub async fn edit(self, message_id: i64, content: String) -> Result<(), ApiError> {
        let message = api::edit_message(message_id, content).await?;
        self.replace_message(message);
        Ok(())
    }

    pub async fn delete(self, conversation_id: i64, message_id: i64) -> Result<(), ApiError> {
        api::delete_message(message_id).await?;
        self.mark_deleted(conversation_id, message_id);
        Ok(())
    }

    /// Adds my reaction, or removes it when I already reacted so.
    pub async fn toggle_reaction(
        self,
        conversation_id: i64,
        message_id: i64,
        emoji: String,
    ) -> Result<(), ApiError> {
        let mine = self.histories.with_untracked(|h| {
            h.get(&conversation_id)
                .and_then(|history| history.items.iter().find(|m| m.id == message_id))
                .is_some_and(|m| m.reactions.iter().any(|r| r.emoji == emoji && r.me))
        });
        let result = if mine {
            api::remove_reaction(message_id, &emoji).await?
        } else {
            api::add_reaction(message_id, &emoji).await?
        };
        self.set_reactions(conversation_id, message_id, result.reactions);
        Ok(())
    }

    /// Changes my mute/archive setting of a conversation; an archived one
    /// moves from the main list to the archive and back.
    pub async fn update_settings(self, id: i64, request: UpdateSettings) -> Result<(), ApiError> {
        let detail = api::update_settings(id, &request).await?;
        let (muted, archived) = (detail.is_muted, detail.is_archived);
        self.details.update(|d| {
            d.insert(id, detail);
        });
        let mut summary = self.summary(id);
        if let Some(s) = summary.as_mut() {
            s.is_muted = muted;
            s.is_archived = archived;
        }
        self.conversations.update(|l| l.retain(|c| c.id != id));
        self.archived.update(|l| l.retain(|c| c.id != id));
        if let Some(s) = summary {
            let target = if archived {
                self.archived
            } else {
                self.conversations
            };
            target.update(|l| {
                l.push(s);
                sort(l);
            });
        }
        Ok(())
    }

    /// Leaves a group.
    pub async fn leave(self, id: i64) -> Result<(), ApiError> {
        let Some(me) = self.me.get_untracked() else {
            return Ok(());
        };
        api::remove_member(id, me).await?;
        self.forget(id);
        Ok(())
    }

    /// Renames a group (owner).
    pub async fn rename(self, id: i64, name: String) -> Result<(), ApiError> {
        let request = UpdateConversation {
            name: Some(name),
            description: None,
        };
        let detail = api::update_conversation(id, &request).await?;
        self.details.update(|d| {
            d.insert(id, detail);
        });
        self.load_list();
        Ok(())
    }

    /// Adds people to a group (owner).
    pub async fn add_members(self, id: i64, user_ids: Vec<i64>) -> Result<(), ApiError> {
        let detail = api::add_members(id, user_ids).await?;
        self.details.update(|d| {
            d.insert(id, detail);
        });
        self.load_list();
        self.refresh_presence();
        Ok(())
    }

    /// Removes someone from a group (owner).
    pub async fn remove_member(self, id: i64, user_id: i64) -> Result<(), ApiError> {
        api::remove_member(id, user_id).await?;
        self.details.update(|d| {
            if let Some(detail) = d.get_mut(&id) {
                detail.members.retain(|m| m.id != user_id);
            }
        });
        self.load_list();
        Ok(())
    }

    /// Pins a message, or unpins it when it is pinned.
    pub async fn toggle_pin(self, conversation_id: i64, message_id: i64) -> Result<(), ApiError> {
        if self.is_pinned(conversation_id, message_id) {
            api::unpin(message_id).await?;
            self.drop_pin(conversation_id, message_id);
        } else {
            let pin = api::pin(message_id).await?;
            self.add_pin(conversation_id, pin);
        }
        Ok(())
    }

    pub fn is_pinned(self, conversation_id: i64, message_id: i64) -> bool {
        self.pins.with(|p| {
            p.get(&conversation_id)
                .is_some_and(|pins| pins.iter().any(|pin| pin.message.id == message_id))
        })
    }

    /// Forwards a message into another conversation of mine.
    pub async fn forward(self, message_id: i64, conversation_id: i64) -> Result<(), ApiError> {
        let message = api::forward(message_id, conversation_id).await?;
        self.upsert_message(message, false);
        Ok(())
    }

    fn add_pin(self, conversation_id: i64, pin: PinDto) {
        self.pins.update(|p| {
            if let Some(pins) = p.get_mut(&conversation_id) {
                pins.retain(|x| x.message.id != pin.message.id);
                pins.insert(0, pin);
            }
        });
    }

    fn drop_pin(self, conversation_id: i64, message_id: i64) {
        self.pins.update(|p| {
            if let Some(pins) = p.get_mut(&conversation_id) {
                pins.retain(|x| x.message.id != message_id);
            }
        });
    }

    /// Marks the open conversation read when the page is visible.
    pub fn mark_read_if_open(self, id: i64) {
        if self.open.get_untracked() != Some(id) || !page_visible() {
            return;
        }
        let loaded = self
            .histories
            .with_untracked(|h| h.get(&id).is_some_and(|history| history.error.is_none()));
        if !loaded {
            return;
        }
        spawn_local(async move {
            match api::mark_read(id, None).await {
                Ok(state) => self.update_summary(id, |c| c.unread_count = state.unread_count),
                Err(err) => leptos::logging::warn!("marking {id} read failed: {err}"),
            }
        });
    }

    /// Sends the typing signal (the composer throttles it).
    pub fn signal_typing(self, id: i64) {
        spawn_local(async move {
            if let Err(err) = api::typing(id).await {
                leptos::logging::warn!("typing signal failed: {err}");
            }
        });
    }

    pub fn draft(self, id: i64) -> String {
        self.drafts
            .with_value(|d| d.get(&id).cloned())
            .unwrap_or_default()
    }

    pub fn set_draft(self, id: i64, text: String) {
        self.drafts.update_value(|d| {
            if text.is_empty() {
                d.remove(&id);
            } else {
                d.insert(id, text);
            }
        });
    }

    /// Drops typing signals older than their time to live.
    pub fn expire_typing(self) {
        let now = js_sys::Date::now();
        let stale = self
            .typing
            .with_untracked(|t| t.values().flatten().any(|typist| typist.expires_at <= now));
        if stale {
            self.typing.update(|t| {
                for typists in t.values_mut() {
                    typists.retain(|typist| typist.expires_at > now);
                }
                t.retain(|_, typists| !typists.is_empty());
            });
        }
    }

    // ---- Events ----------------------------------------------------------

    /// Applies one event of the stream.
    pub fn apply(self, event: Event) {
        match event {
            Event::Connected { user_id } => {
                if self.me.get_untracked().is_none() {
                    self.me.set(Some(user_id));
                }
            }
            Event::Resync {} => self.resync(),
            Event::NewMessage { message } => {
                let from_other = message.sender.as_ref().map(|s| s.id) != self.me.get_untracked();
                if let Some(sender) = &message.sender {
                    let (conversation_id, sender_id) = (message.conversation_id, sender.id);
                    self.typing.update(|t| {
                        if let Some(typists) = t.get_mut(&conversation_id) {
                            typists.retain(|typist| typist.user_id != sender_id);
                        }
                    });
                }
                self.upsert_message(message, from_other);
            }
            Event::MessageEdited { message } => self.replace_message(message),
            Event::MessageDeleted {
                conversation_id,
                message_id,
            } => self.mark_deleted(conversation_id, message_id),
            Event::Reaction {
                conversation_id,
                message_id,
                reactions,
            } => self.set_reactions(conversation_id, message_id, reactions),
            Event::MessageRead {
                conversation_id,
                user_id,
                last_read_message_id,
            } => {
                self.details.update(|d| {
                    if let Some(detail) = d.get_mut(&conversation_id)
                        && let Some(member) = detail.members.iter_mut().find(|m| m.id == user_id)
                    {
                        member.last_read_message_id = last_read_message_id;
                    }
                });
                if Some(user_id) == self.me.get_untracked() {
                    self.update_summary(conversation_id, |c| {
                        if last_read_message_id >= c.last_message.as_ref().map(|m| m.id) {
                            c.unread_count = 0;
                        }
                    });
                }
            }
            Event::Typing {
                conversation_id,
                user_id,
                user_name,
            } => {
                if Some(user_id) == self.me.get_untracked() {
                    return;
                }
                let expires_at = js_sys::Date::now() + TYPING_TTL_MS;
                self.typing.update(|t| {
                    let typists = t.entry(conversation_id).or_default();
                    typists.retain(|typist| typist.user_id != user_id);
                    typists.push(Typist {
                        user_id,
                        name: user_name,
                        expires_at,
                    });
                });
            }
            Event::ConversationCreated { .. } => self.load_list(),
            Event::ConversationUpdated { conversation_id }
            | Event::MemberAdded {
                conversation_id, ..
            } => {
                self.load_list();
                self.reload_detail_if_loaded(conversation_id);
            }
            Event::MemberRemoved {
                conversation_id,
                user_id,
            } => {
                if Some(user_id) == self.me.get_untracked() {
                    self.forget(conversation_id);
                } else {
                    self.load_list();
                    self.reload_detail_if_loaded(conversation_id);
                }
            }
            Event::ConversationDeleted { conversation_id } => self.forget(conversation_id),
            Event::MessagePinned {
                conversation_id, ..
            } => {
                // The event names the message only: fetch the pins again.
                if self
                    .pins
                    .with_untracked(|p| p.contains_key(&conversation_id))
                {
                    self.load_pins(conversation_id);
                }
            }
            Event::MessageUnpinned {
                conversation_id,
                message_id,
            } => self.drop_pin(conversation_id, message_id),
            Event::Presence {
                user_id,
                online,
                last_seen,
            } => self.presence.update(|p| {
                p.insert(
                    user_id,
                    PresenceDto {
                        user_id,
                        online,
                        last_seen,
                    },
                );
            }),
        }
    }

    /// Refetches everything shown (the stream could not replay what we missed).
    pub fn resync(self) {
        self.load_list();
        let loaded: Vec<i64> = self
            .histories
            .with_untracked(|h| h.keys().copied().collect());
        let open = self.open.get_untracked();
        // Histories of other conversations reload when they are opened again.
        self.histories
            .update(|h| h.retain(|id, _| Some(*id) == open));
        self.details.update(|d| d.retain(|id, _| Some(*id) == open));
        self.pins.update(|p| p.retain(|id, _| Some(*id) == open));
        if let Some(id) = open.filter(|id| loaded.contains(id)) {
            self.load_latest(id);
            self.load_detail(id);
            self.load_pins(id);
        }
        if self.archived_loaded.get_untracked() {
            self.load_archived();
        }
    }

    fn reload_detail_if_loaded(self, id: i64) {
        if self.details.with_untracked(|d| d.contains_key(&id)) {
            self.load_detail(id);
        }
    }

    /// Drops a conversation the caller no longer sees.
    fn forget(self, id: i64) {
        self.conversations
            .update(|list| list.retain(|c| c.id != id));
        self.archived.update(|list| list.retain(|c| c.id != id));
        self.pins.update(|p| {
            p.remove(&id);
        });
        self.histories.update(|h| {
            h.remove(&id);
        });
        self.details.update(|d| {
            d.remove(&id);
        });
        self.missing.update(|m| {
            if !m.contains(&id) {
                m.push(id);
            }
        });
    }

    /// Adds (or replaces) a message and moves its conversation to the top.
    fn upsert_message(self, message: MessageDto, from_other: bool) {
        let id = message.conversation_id;
        let mut is_new = true;
        self.histories.update(|h| {
            if let Some(history) = h.get_mut(&id) {
                if let Some(existing) = history.items.iter_mut().find(|m| m.id == message.id) {
                    is_new = false;
                    *existing = merged(existing, message.clone());
                } else {
                    let at = history
                        .items
                        .iter()
                        .rposition(|m| m.id < message.id)
                        .map_or(0, |i| i + 1);
                    history.items.insert(at, message.clone());
                }
            }
        });
        // A new message brings an archived conversation back (the server
        // has un-archived it): the main list has it again.
        let was_archived = self
            .archived
            .with_untracked(|list| list.iter().any(|c| c.id == id));
        if was_archived {
            self.archived.update(|list| list.retain(|c| c.id != id));
            self.details.update(|d| {
                if let Some(detail) = d.get_mut(&id) {
                    detail.is_archived = false;
                }
            });
        }
        let known = self
            .conversations
            .with_untracked(|list| list.iter().any(|c| c.id == id));
        if !known {
            self.load_list();
            // Open and on screen (e.g. an archived one that just came back).
            if is_new && from_other && self.open.get_untracked() == Some(id) {
                self.mark_read_if_open(id);
            }
            return;
        }
        let reading = from_other && self.open.get_untracked() == Some(id) && page_visible();
        self.conversations.update(|list| {
            if let Some(summary) = list.iter_mut().find(|c| c.id == id) {
                if last_id(summary) <= Some(message.id) {
                    summary.last_message = Some(last_message_of(&message));
                    summary.updated_at = summary.updated_at.max(message.created_at);
                }
                if is_new && from_other && !reading {
                    summary.unread_count += 1;
                }
            }
            sort(list);
        });
        if is_new && reading {
            self.mark_read_if_open(id);
        }
    }

    /// Replaces a loaded message (edits, link previews).
    fn replace_message(self, message: MessageDto) {
        let id = message.conversation_id;
        let me = self.me.get_untracked();
        self.histories.update(|h| {
            if let Some(existing) = h
                .get_mut(&id)
                .and_then(|history| history.items.iter_mut().find(|m| m.id == message.id))
            {
                let mut message = message.clone();
                mark_mine(&mut message.reactions, me);
                *existing = message;
            }
        });
        self.pins.update(|p| {
            if let Some(pin) = p
                .get_mut(&id)
                .and_then(|pins| pins.iter_mut().find(|pin| pin.message.id == message.id))
            {
                pin.message = message.clone();
            }
        });
        self.update_summary(id, |c| {
            if last_id(c) == Some(message.id) {
                c.last_message = Some(last_message_of(&message));
            }
        });
    }

    fn mark_deleted(self, conversation_id: i64, message_id: i64) {
        // A deleted message is no longer pinned (the server drops the pin).
        self.drop_pin(conversation_id, message_id);
        self.histories.update(|h| {
            if let Some(message) = h
                .get_mut(&conversation_id)
                .and_then(|history| history.items.iter_mut().find(|m| m.id == message_id))
            {
                message.is_deleted = true;
                message.content = None;
                message.content_html = None;
                message.reactions.clear();
                message.attachments.clear();
                message.link_preview = None;
            }
        });
        self.update_summary(conversation_id, |c| {
            if let Some(last) = c.last_message.as_mut().filter(|m| m.id == message_id) {
                last.is_deleted = true;
                last.preview.clear();
            }
        });
    }

    fn set_reactions(
        self,
        conversation_id: i64,
        message_id: i64,
        mut reactions: Vec<ReactionSummary>,
    ) {
        mark_mine(&mut reactions, self.me.get_untracked());
        self.histories.update(|h| {
            if let Some(message) = h
                .get_mut(&conversation_id)
                .and_then(|history| history.items.iter_mut().find(|m| m.id == message_id))
            {
                message.reactions = reactions;
            }
        });
    }

    fn update_summary(self, id: i64, f: impl FnOnce(&mut ConversationSummary)) {
        let known = self
            .conversations
            .with_untracked(|list| list.iter().any(|c| c.id == id));
        if known {
            self.conversations.update(|list| {
                if let Some(summary) = list.iter_mut().find(|c| c.id == id) {
                    f(summary);
                }
            });
        }
    }
}

impl Default for ChatStore {
    fn default() -> Self {
        Self::new()
    }
}

/// The app's `ChatStore` (provided by `App`).
pub fn use_chat() -> ChatStore {
    expect_context::<ChatStore>()
}

/// Puts freshly fetched summaries into the list. An event may have arrived
/// while the request was on its way: the newer last message is kept. A
/// `complete` fetch replaces the list; a partial one (the first page) keeps
/// the entries it does not cover yet.
fn merge_list(
    list: &mut Vec<ConversationSummary>,
    mut fresh: Vec<ConversationSummary>,
    complete: bool,
) {
    let old: HashMap<i64, &ConversationSummary> = list.iter().map(|c| (c.id, c)).collect();
    for item in &mut fresh {
        if let Some(old) = old.get(&item.id)
            && last_id(old) > last_id(item)
        {
            item.last_message = old.last_message.clone();
            item.unread_count = item.unread_count.max(old.unread_count);
            item.updated_at = item.updated_at.max(old.updated_at);
        }
    }
    if !complete {
        let covered: HashSet<i64> = fresh.iter().map(|c| c.id).collect();
        fresh.extend(list.iter().filter(|c| !covered.contains(&c.id)).cloned());
    }
    sort(&mut fresh);
    *list = fresh;
}

/// A message arriving again (the send answer after its own `new_message`,
/// or the other way round) may be older than what is shown: the link
/// preview and thumbnails are filled in later and announced by
/// `message_edited`, which can overtake the send answer. Keep them.
fn merged(existing: &MessageDto, mut incoming: MessageDto) -> MessageDto {
    if incoming.is_deleted {
        return incoming;
    }
    if incoming.link_preview.is_none() {
        incoming.link_preview = existing.link_preview.clone();
    }
    for attachment in &mut incoming.attachments {
        if attachment.thumbnail_url.is_none()
            && let Some(old) = existing.attachments.iter().find(|a| a.id == attachment.id)
        {
            attachment.thumbnail_url = old.thumbnail_url.clone();
            attachment.width = old.width;
            attachment.height = old.height;
        }
    }
    if incoming.edited_at < existing.edited_at {
        incoming.content = existing.content.clone();
        incoming.content_html = existing.content_html.clone();
        incoming.edited_at = existing.edited_at;
    }
    incoming
}

fn last_id(c: &ConversationSummary) -> Option<i64> {
    c.last_message.as_ref().map(|m| m.id)
}

/// When a conversation was last active (its order in the list).
pub fn activity(c: &ConversationSummary) -> DateTime<Utc> {
    c.last_message
        .as_ref()
        .map_or(c.updated_at, |m| m.created_at.max(c.updated_at))
}

fn sort(list: &mut [ConversationSummary]) {
    list.sort_by(|a, b| activity(b).cmp(&activity(a)).then(b.id.cmp(&a.id)));
}

fn last_message_of(message: &MessageDto) -> LastMessage {
    LastMessage {
        id: message.id,
        sender: message.sender.clone(),
        preview: if message.is_deleted {
            String::new()
        } else {
            plain_preview(message.content.as_deref().unwrap_or_default())
        },
        created_at: message.created_at,
        is_deleted: message.is_deleted,
    }
}

/// A one-line preview of Markdown: markup characters dropped, whitespace
/// collapsed, cut at the server's preview length.
pub fn plain_preview(markdown: &str) -> String {
    let text: String = markdown
        .chars()
        .filter(|c| !matches!(c, '*' | '_' | '`' | '#' | '>' | '~'))
        .collect();
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(PREVIEW_CHARS)
        .collect()
}

/// Events carry `me: false`; set it from the user ids.
fn mark_mine(reactions: &mut [ReactionSummary], me: Option<i64>) {
    for reaction in reactions {
        reaction.me = me.is_some_and(|me| reaction.user_ids.contains(&me));
    }
}

fn page_visible() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .is_none_or(|d| d.visibility_state() == web_sys::VisibilityState::Visible)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_drops_markup() {
        assert_eq!(plain_preview("**Cześć**  _Jan_\n`x`"), "Cześć Jan x");
        assert_eq!(
            plain_preview(&"a".repeat(300)).chars().count(),
            PREVIEW_CHARS
        );
    }
}
