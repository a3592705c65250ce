//! The upvote workload (`--arguments`): before the burst, a few phones vote and argue
//! (and, with `--questions`, the first of them ask a question) and the host approves
//! every argument and question; from the burst's start, phones upvote them open-loop
//! while the votes go on. Each phone counts what it receives in the upvote
//! window (bytes of text frames and messages, of any type), so the figures compare a
//! server that sends every phone a new `state` per upvote with one that sends counts.

use std::time::Duration;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::time::Instant;

use crate::client::{Host, StateIn, UPVOTE_ID};
use crate::phones::GroupReport;
use crate::report::{self, Metrics};
use crate::workers::Fleet;

/// What the arguers do before the burst: phones `first..first + count` each vote on
/// `slide` in `round` and then send one argument.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Setup {
    /// The statement's slide.
    pub slide: usize,
    /// Its round.
    pub round: u32,
    /// The first arguing phone.
    pub first: u64,
    /// How many phones argue.
    pub count: u64,
    /// How many of them, the first ones, also ask a question.
    #[serde(default)]
    pub questions: u64,
}

impl Setup {
    /// Whether phone `p` argues.
    pub fn holds(&self, p: u64) -> bool {
        p >= self.first && p < self.first + self.count
    }

    /// Whether phone `p` asks a question after its argument.
    pub fn asks(&self, p: u64) -> bool {
        p >= self.first && p < self.first + self.questions.min(self.count)
    }
}

/// How the arguers fared.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ArgueReport {
    /// Arguing phones.
    pub arguers: usize,
    /// Arguments stored (`argued`).
    pub argued: usize,
    /// Setup votes or arguments refused, or phones that lost their connection.
    pub failed: usize,
}

impl ArgueReport {
    /// Adds another group's report.
    pub fn merge(&mut self, other: ArgueReport) {
        self.arguers += other.arguers;
        self.argued += other.argued;
        self.failed += other.failed;
    }
}

/// The upvote schedule, shared by every phone like the vote schedule.
///
/// Upvote `u` is due at `t0 + u / rate` and sent by phone `u mod phones`, for item
/// `(u div phones + u mod phones) mod A` of the arguments followed by the questions:
/// round-robin over the phones, and since `count <= phones * A` no phone upvotes an
/// item twice. Only phones below `count` upvote, and the askers come after them, so
/// nobody upvotes their own question. Phones count what they
/// receive from `t0` to `end` (the window); with `count == 0` (the baseline run) they
/// only count.
#[derive(Debug, Clone)]
pub struct UpvotePlan {
    /// The approved arguments' numbers.
    pub arguments: Vec<u32>,
    /// The approved questions' numbers.
    pub questions: Vec<u32>,
    /// Phones in the run.
    pub phones: u64,
    /// The first upvote, and the window's start.
    pub t0: Instant,
    /// Upvotes per second.
    pub rate: f64,
    /// Upvotes scheduled.
    pub count: u64,
    /// The window's end.
    pub end: Instant,
}

impl UpvotePlan {
    /// When upvote `u` is due.
    pub fn due(&self, u: u64) -> Instant {
        self.t0 + Duration::from_secs_f64(u as f64 / self.rate)
    }

    /// The first upvote of phone `p`, if any.
    pub fn first_for(&self, p: u64) -> Option<u64> {
        (p < self.count).then_some(p)
    }

    /// The phone's upvote after `u`, if any.
    pub fn after(&self, u: u64) -> Option<u64> {
        let next = u + self.phones;
        (next < self.count).then_some(next)
    }

    /// How many upvotes phone `p` sends.
    pub fn count_of(&self, p: u64) -> u64 {
        self.count / self.phones + u64::from(p < self.count % self.phones)
    }

    /// The item upvote `u` is for.
    pub fn item(&self, u: u64) -> Upvoted {
        let a = (self.arguments.len() + self.questions.len()) as u64;
        let i = ((u / self.phones + u % self.phones) % a) as usize;
        match self.arguments.get(i) {
            Some(&argument) => Upvoted::Argument(argument),
            None => Upvoted::Question(self.questions[i - self.arguments.len()]),
        }
    }

    /// The message of upvote `u`.
    pub fn message(&self, u: u64) -> String {
        let id = UPVOTE_ID + u;
        match self.item(u) {
            Upvoted::Argument(n) => {
                format!("{{\"type\":\"upvote\",\"id\":{id},\"argument\":{n}}}")
            }
            Upvoted::Question(n) => {
                format!("{{\"type\":\"upvote_question\",\"id\":{id},\"question\":{n}}}")
            }
        }
    }

    /// Whether `t` is inside the window.
    pub fn in_window(&self, t: Instant) -> bool {
        t >= self.t0 && t < self.end
    }

    /// The window's length in seconds.
    pub fn window_secs(&self) -> f64 {
        (self.end - self.t0).as_secs_f64()
    }
}

/// What an upvote is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Upvoted {
    Argument(u32),
    Question(u32),
}

/// Arguments as phones type them: Dutch, about the built-in deck's subject, 80 to 200
/// characters. Argument `i` has text `i mod 50`.
const TEXTS: [&str; 50] = [
    "Elke wijk is anders; wat in het centrum werkt, past niet vanzelf in een dorp met vierhonderd inwoners en één buurthuis.",
    "Zonder vaste werkwijze weet een wijkraad nooit waar hij aan toe is, en hangt alles af van welke ambtenaar er toevallig zit.",
    "Maatwerk vraagt vertrouwen in de ambtenaar die de wijk kent, en dat vertrouwen moet de raad dan ook echt durven geven.",
    "Een vaste procedure maakt het voor inwoners makkelijker om te zien wie wat beslist en waar ze met een klacht terecht kunnen.",
    "In ons dorp duurde het twee jaar voordat er een bankje kwam, omdat elk verzoek langs drie afdelingen moest.",
    "Als de regels voor iedereen hetzelfde zijn, krijgen de mondige wijken niet vanzelf meer geld dan de stille wijken.",
    "De wijkraden zijn vrijwilligers; je kunt niet verwachten dat zij zich door een handboek van veertig pagina's werken.",
    "Gebiedsgericht werken staat al acht jaar in het coalitieprogramma, maar niemand kan me vertellen wat het heeft opgeleverd.",
    "Geef de wijkteams een eigen budget en laat ze achteraf verantwoorden, in plaats van voor elke uitgave vooraf toestemming te vragen.",
    "Maatwerk klinkt mooi, maar zonder afspraken op papier is het straks willekeur en kan de raad niets meer controleren.",
    "De IBOR-ploeg weet beter dan het stadhuis welke stoep eerst aangepakt moet worden; laat hen dat ook beslissen.",
    "Een vaste werkwijze helpt nieuwe medewerkers, want nu vertrekt met elke wijkregisseur ook alle kennis over de wijk.",
    "Inwoners haken af als ze drie keer hetzelfde verhaal moeten vertellen aan drie verschillende loketten van de gemeente.",
    "Kernraden willen serieus genomen worden; dat lukt alleen als hun formele rol ook in de praktijk iets betekent.",
    "Wat mij betreft begin je met luisteren in de wijk en schrijf je pas daarna op welke procedure daarbij past.",
    "Zonder meetbare doelen weet de rekenkamer over vier jaar opnieuw niet of het geld voor de wijken goed is besteed.",
    "De woningcorporatie en de politie zitten nu aan tafel omdat de wijkagent iemand kent, niet omdat het zo is afgesproken.",
    "Vastgelegde procedures beschermen ook de ambtenaar, die anders bij elke keuze persoonlijk wordt aangesproken.",
    "Kleine dorpen hebben geen wijkraad met een secretaris en een penningmeester; een vaste werkwijze sluit hen zo buiten.",
    "Het burgerpanel laat zien dat de meeste inwoners niet eens weten dat er een wijkraad is; begin daar eerst mee.",
    "Elke wijk een eigen aanpak betekent ook elke wijk een eigen verantwoording, en dat kan de raad nooit allemaal volgen.",
    "Laat de raad de kaders stellen en de wijken zelf de invulling kiezen; dan heb je maatwerk binnen duidelijke grenzen.",
    "Bij ons in de wijk werkt het juist goed omdat de wijkregisseur soms buiten de regels durft te kijken.",
    "Procedures zijn geen doel op zich, maar zonder een paar vaste stappen weet niemand wanneer een verzoek is afgehandeld.",
    "De kosten van gebiedsgericht werken zijn nergens apart zichtbaar in de begroting; dat moet eerst veranderen.",
    "Vrijwilligers in de dorpsraad stoppen ermee als ze merken dat hun advies in een la verdwijnt zonder antwoord.",
    "Eén werkwijze voor alle kernen is eerlijk, maar eerlijk is niet hetzelfde als voor iedereen precies gelijk.",
    "Als we alles vastleggen, wordt de wijkraad een extra loket van de gemeente in plaats van een stem van de buurt.",
    "Ik mis in het rapport de jongeren; die zitten niet in een wijkraad en worden met geen enkele werkwijze bereikt.",
    "Een duidelijke procedure maakt het ook mogelijk om te zien welke wijken achterblijven en daar extra in te zetten.",
    "Het college moet kiezen: óf echt ruimte geven aan de wijken, óf eerlijk zeggen dat de gemeente het zelf regelt.",
    "Maatwerk werkt alleen met mensen die lang in dezelfde wijk blijven, en het verloop bij de gemeente is nu veel te hoog.",
    "De vakafdelingen plannen hun werk nog steeds per thema en niet per gebied; daar helpt geen enkele procedure tegen.",
    "Zet in elke wijk één vast aanspreekpunt neer met een mandaat om kleine dingen meteen zelf op te lossen.",
    "Een vaste werkwijze hoeft niet star te zijn; leg vast wie beslist, en laat de wijk bepalen wat er gebeurt.",
    "Elke keer als er een nieuwe wethouder komt, wordt het gebiedsgericht werken opnieuw uitgevonden; dat kost veel geld.",
    "Wijkbudgetten zijn vaak al in maart op, terwijl de beste ideeën van bewoners pas in de zomer komen.",
    "Zonder vaste regels voor inspraak winnen de mensen die de wethouder persoonlijk kennen, en dat is niet democratisch.",
    "Laat de rekenkamer over twee jaar terugkomen, dan zien we of maatwerk of de vaste werkwijze beter heeft gewerkt.",
    "De maatschappelijke partners willen vooral weten bij wie ze moeten zijn; dat is een kwestie van afspraken, niet van regels.",
    "Het rapport laat zien dat inwoners tevreden zijn over het contact, maar niet over wat er daarna met hun vragen gebeurt.",
    "Geef wijkraden inzage in de planning van onderhoud, dan hoeven ze niet elk jaar opnieuw naar dezelfde kapotte lantaarnpaal te vragen.",
    "Een vaste werkwijze voorkomt dat elke wijk zelf het wiel moet uitvinden als er iets misgaat met een subsidieaanvraag.",
    "Maatwerk betekent ook dat je als gemeente soms nee zegt tegen de ene wijk om de andere wijk te kunnen helpen.",
    "In de grote kernen werkt een wijkraad prima, maar in de buitengebieden regelen mensen het liever gewoon onderling.",
    "De raad krijgt nu alleen verhalen te horen; met een vaste werkwijze komen er ook cijfers die je kunt vergelijken.",
    "Wie de wijk kent, weet dat het buurthuis belangrijker is dan welk beleidsstuk ook; investeer daar eerst in.",
    "Het gevaar van maatwerk is dat de gemeente het gesprek alleen nog voert met de mensen die toch al meepraten.",
    "Leg de werkwijze vast in een convenant met de wijkraden zelf, dan is het van hen en niet alleen van het stadhuis.",
    "Ik stem voor maatwerk, omdat mijn dorp met de huidige procedures al drie keer een afwijzing kreeg voor hetzelfde plan.",
];

/// The most arguments the workload approves: phones list at most 50 (`state.arguments`).
pub const MAX_ARGUMENTS: usize = 50;

/// Questions as a room asks them; question `i` has text `i mod 10`.
const QUESTIONS: [&str; 10] = [
    "Wat kost het gebiedsgericht werken per wijk, en waar staat dat in de begroting?",
    "Wie beslist er uiteindelijk als de wijkraad en de vakafdeling het niet eens zijn?",
    "Hoe gaat de gemeente inwoners bereiken die nu nooit naar een wijkraad komen?",
    "Komt de rekenkamer over twee jaar terug om te zien wat er met de aanbevelingen is gedaan?",
    "Waarom is de werkwijze van de gemeente nooit op papier gezet?",
    "Krijgen de dorpsraden een eigen budget, of blijft elk verzoek langs het stadhuis gaan?",
    "Hoe worden de jongeren bij het gebiedsgericht werken betrokken?",
    "Wat doet de raad met de uitkomst van deze avond?",
    "Is er een vast aanspreekpunt per wijk, en hoe vind ik die?",
    "Hoe meet de gemeente of de leefbaarheid echt beter wordt?",
];

/// The most questions the workload approves: phones list at most 50 (`state.questions`).
pub const MAX_QUESTIONS: usize = 50;

/// The `ask` message of the `i`-th asker.
pub fn ask_message(id: u64, i: u64) -> String {
    let text = QUESTIONS[(i % QUESTIONS.len() as u64) as usize];
    json!({"type": "ask", "id": id, "text": text}).to_string()
}

/// The text of argument `i` (0-based among the arguers).
pub fn argument_text(i: u64) -> &'static str {
    TEXTS[(i % TEXTS.len() as u64) as usize]
}

/// The `argue` message of phone `p`, the `i`-th arguer, for `option` on `slide`.
pub fn argue_message(id: u64, slide: usize, option: u8, i: u64) -> String {
    json!({"type": "argue", "id": id, "slide": slide, "option": option, "text": argument_text(i)})
        .to_string()
}

/// Arguments on the host's list with `status`, by number.
fn with_status(state: &StateIn, status: &str) -> Vec<u32> {
    let items = state.arguments.iter().flat_map(|a| &a.items);
    numbers_with(items.map(|i| (i.argument, i.status.as_deref())), status)
}

/// Questions on the host's list with `status`, by number.
fn questions_with_status(state: &StateIn, status: &str) -> Vec<u32> {
    let items = state.questions.iter().flat_map(|q| &q.items);
    numbers_with(items.map(|i| (i.question, i.status.as_deref())), status)
}

/// The numbers of the items with `status`, sorted.
fn numbers_with<'a>(items: impl Iterator<Item = (u32, Option<&'a str>)>, status: &str) -> Vec<u32> {
    let mut numbers: Vec<u32> = items
        .filter(|(_, s)| *s == Some(status))
        .map(|(n, _)| n)
        .collect();
    numbers.sort_unstable();
    numbers
}

/// The upvotes on the host's lists, summed over the arguments and the questions.
pub fn upvotes_listed(state: &StateIn) -> u64 {
    let arguments: u64 = state
        .arguments
        .iter()
        .flat_map(|a| &a.items)
        .map(|item| item.upvotes)
        .sum();
    let questions: u64 = state
        .questions
        .iter()
        .flat_map(|q| &q.items)
        .map(|item| item.upvotes)
        .sum();
    arguments + questions
}

/// The arguers vote and argue (the askers among them ask too, questions opened first),
/// then the host approves every argument and question; returns the approved
/// arguments' and questions' numbers. Fails if any step does not complete (each is
/// bounded).
pub async fn approve_arguments(
    fleet: &mut Fleet,
    host: &mut Host,
    setup: Setup,
) -> Result<(Vec<u32>, Vec<u32>)> {
    let count = setup.count as usize;
    let asked = setup.questions.min(setup.count) as usize;
    if asked > 0 {
        host.send(json!({"type": "open_questions", "open": true}))
            .await?;
    }
    let report = fleet.argue(setup).await?;
    if report.argued != count || report.failed > 0 {
        bail!(
            "of {count} arguing phones {} stored an argument (and question) and {} failed (see the first problem of a phone)",
            report.argued,
            report.failed
        );
    }
    host.wait("every argument and question pending", |s| {
        with_status(s, "pending").len() >= count
            && questions_with_status(s, "pending").len() >= asked
    })
    .await?;
    for _ in 0..MODERATE_ROUNDS {
        // Borrows of the newest state, dropped at the end of each statement.
        let pending = with_status(&host.state.borrow(), "pending");
        for number in pending {
            host.send(json!({"type": "moderate", "argument": number, "status": "approved"}))
                .await?;
        }
        let pending = questions_with_status(&host.state.borrow(), "pending");
        for number in pending {
            host.send(
                json!({"type": "moderate_question", "question": number, "status": "approved"}),
            )
            .await?;
        }
        let approved = tokio::time::timeout(
            Duration::from_secs(1),
            host.state.wait_for(|s| {
                with_status(s, "approved").len() >= count
                    && questions_with_status(s, "approved").len() >= asked
            }),
        )
        .await
        .is_ok_and(|r| r.is_ok());
        if approved {
            let state = host.state.borrow();
            return Ok((
                with_status(&state, "approved"),
                questions_with_status(&state, "approved"),
            ));
        }
    }
    bail!("the host did not see every argument and question approved in {MODERATE_ROUNDS} rounds")
}

/// A host, like every connection, may send 10 messages a second (40 at once): with
/// `open_vote` just before, the 40th `moderate` can be refused (`rate_limited`). Each
/// round moderates what is still pending and waits a second for the rest.
const MODERATE_ROUNDS: usize = 20;

/// The window's figures: what each phone received per second (median and max over the
/// phones), their sum (what the server sent the phones), and the upvotes' answers.
pub fn window_metrics(metrics: &mut Metrics, seen: &GroupReport, plan: &UpvotePlan) {
    let secs = plan.window_secs().max(1e-3);
    let per_s = |v: &[f64]| -> (f64, f64) {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        match v.len() {
            0 => (f64::NAN, f64::NAN),
            n if n % 2 == 1 => (v[n / 2], v[n - 1]),
            n => ((v[n / 2 - 1] + v[n / 2]) / 2.0, v[n - 1]),
        }
    };
    let kb: Vec<f64> = seen
        .window_bytes
        .iter()
        .map(|&b| b as f64 / 1000.0 / secs)
        .collect();
    let msgs: Vec<f64> = seen
        .window_messages
        .iter()
        .map(|&m| f64::from(m) / secs)
        .collect();
    let states: Vec<f64> = seen
        .window_states
        .iter()
        .map(|&m| f64::from(m) / secs)
        .collect();
    let (kb_p50, kb_max) = per_s(&kb);
    let (msgs_p50, msgs_max) = per_s(&msgs);
    metrics.insert("arguments", plan.arguments.len() as f64);
    metrics.insert("questions", plan.questions.len() as f64);
    metrics.insert("upvote_rate", plan.rate);
    metrics.insert("upvote_window_s", secs);
    metrics.insert("phone_kb_per_s_p50", kb_p50);
    metrics.insert("phone_kb_per_s_max", kb_max);
    metrics.insert("phone_msgs_per_s_p50", msgs_p50);
    metrics.insert("phone_msgs_per_s_max", msgs_max);
    metrics.insert("phone_states_per_s_p50", per_s(&states).0);
    let total: u64 = seen.window_bytes.iter().sum();
    metrics.insert("egress_mb_per_s", total as f64 / 1e6 / secs);
    if plan.count > 0 {
        let s = report::summarize(&seen.upvote_ok_us);
        metrics.insert("upvote_ok_p50_ms", s.p50);
        metrics.insert("upvote_ok_p99_ms", s.p99);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn the_texts_are_what_phones_type() {
        for text in TEXTS {
            let chars = text.chars().count();
            assert!((80..=200).contains(&chars), "{chars} characters: {text}");
        }
    }

    #[test]
    fn no_phone_upvotes_an_argument_twice() {
        let t0 = Instant::now();
        let plan = UpvotePlan {
            arguments: (10..14).collect(),
            questions: (1..4).collect(),
            phones: 5,
            t0,
            rate: 100.0,
            count: 35,
            end: t0 + Duration::from_secs(1),
        };
        let mut pairs = HashSet::new();
        for p in 0..plan.phones {
            let mut sent = 0;
            let mut next = plan.first_for(p);
            while let Some(u) = next {
                assert_eq!(u % plan.phones, p);
                assert!(pairs.insert((p, plan.item(u))), "phone {p} twice");
                sent += 1;
                next = plan.after(u);
            }
            assert_eq!(sent, plan.count_of(p));
        }
        assert_eq!(pairs.len(), 35);
    }
}
