//! A seeded, self-contained example set (like nanochat's `--mode example`): short documents on
//! a dozen topics that refer to each other, and conversations of one to three user turns
//! asking about them. The same seed gives the same bytes.

use serde_json::{json, Value};
use trawl_data::Document;

/// SplitMix64: small, seeded, the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

struct Topic {
    name: &'static str,
    nouns: &'static [&'static str],
    verbs: &'static [&'static str],
    places: &'static [&'static str],
}

const TOPICS: &[Topic] = &[
    Topic {
        name: "volcano",
        nouns: &["magma", "lava", "ash cloud", "caldera", "eruption"],
        verbs: &["erupts", "cools", "collapses", "vents"],
        places: &["Iceland", "Hawaii", "Java"],
    },
    Topic {
        name: "glacier",
        nouns: &["ice sheet", "moraine", "crevasse", "meltwater", "fjord"],
        verbs: &["retreats", "carves", "calves", "advances"],
        places: &["Greenland", "Patagonia", "the Alps"],
    },
    Topic {
        name: "coral reef",
        nouns: &["polyp", "bleaching", "lagoon", "algae", "atoll"],
        verbs: &["grows", "bleaches", "shelters", "recovers"],
        places: &["Belize", "the Red Sea", "Queensland"],
    },
    Topic {
        name: "honey bee",
        nouns: &["hive", "pollen", "queen", "nectar", "swarm"],
        verbs: &["forages", "pollinates", "swarms", "dances"],
        places: &["orchards", "meadows", "Provence"],
    },
    Topic {
        name: "monsoon",
        nouns: &["rainfall", "cyclone", "humidity", "flood", "trade wind"],
        verbs: &["arrives", "floods", "weakens", "shifts"],
        places: &["Kerala", "Bangladesh", "Myanmar"],
    },
    Topic {
        name: "rainforest",
        nouns: &["canopy", "epiphyte", "understory", "jaguar", "liana"],
        verbs: &["regrows", "transpires", "shades", "burns"],
        places: &["the Amazon", "Borneo", "the Congo basin"],
    },
    Topic {
        name: "earthquake",
        nouns: &[
            "fault",
            "aftershock",
            "tsunami",
            "seismograph",
            "tectonic plate",
        ],
        verbs: &["ruptures", "shakes", "slips", "triggers"],
        places: &["Chile", "Japan", "Anatolia"],
    },
    Topic {
        name: "salmon",
        nouns: &["spawning", "river", "smolt", "hatchery", "ladder"],
        verbs: &["migrates", "spawns", "returns", "feeds"],
        places: &["Alaska", "Norway", "British Columbia"],
    },
    Topic {
        name: "desert",
        nouns: &["dune", "oasis", "aquifer", "sandstorm", "cactus"],
        verbs: &["expands", "dries", "shifts", "blooms"],
        places: &["the Sahara", "the Atacama", "the Gobi"],
    },
    Topic {
        name: "aurora",
        nouns: &[
            "solar wind",
            "magnetosphere",
            "ionosphere",
            "oxygen glow",
            "substorm",
        ],
        verbs: &["flickers", "brightens", "ripples", "fades"],
        places: &["Tromso", "Yukon", "Lapland"],
    },
    Topic {
        name: "wetland",
        nouns: &["peat", "reed bed", "heron", "marsh", "mangrove"],
        verbs: &["filters", "stores", "floods", "drains"],
        places: &["the Everglades", "the Camargue", "the Pantanal"],
    },
    Topic {
        name: "comet",
        nouns: &["nucleus", "coma", "ion tail", "perihelion", "dust trail"],
        verbs: &["sublimates", "brightens", "orbits", "fragments"],
        places: &[
            "the Kuiper belt",
            "the Oort cloud",
            "the inner solar system",
        ],
    },
];

fn sentence(rng: &mut Rng, t: &Topic, other: &Topic) -> String {
    let (n1, n2, v, p) = (
        rng.pick(t.nouns),
        rng.pick(t.nouns),
        rng.pick(t.verbs),
        rng.pick(t.places),
    );
    match rng.below(5) {
        0 => format!("In {p} the {} {v} when the {n1} meets the {n2}.", t.name),
        1 => format!("Researchers measured how the {n1} {v} near the {n2} of {p}."),
        2 => format!(
            "The {n1} of a {} is linked to the {} of the {}.",
            t.name,
            rng.pick(other.nouns),
            other.name
        ),
        3 => format!("Each season the {n2} {v}, and the {n1} follows within weeks."),
        _ => format!("Records from {p} show that the {n1} {v} faster than the {n2} expected."),
    }
}

/// `num_docs` documents (ids `ex<i>`), round-robin over the topics.
pub fn documents(seed: u64, num_docs: usize) -> Vec<Document> {
    let mut rng = Rng(seed ^ 0xD0C5);
    (0..num_docs)
        .map(|i| {
            let t = &TOPICS[i % TOPICS.len()];
            let other = &TOPICS[(i + 1 + rng.below(TOPICS.len() - 1)) % TOPICS.len()];
            let n = 3 + rng.below(5);
            let text: Vec<String> = (0..n).map(|_| sentence(&mut rng, t, other)).collect();
            Document {
                id: format!("ex{i}"),
                title: format!("{} notes {}", capitalise(t.name), i / TOPICS.len() + 1),
                text: text.join(" "),
                ..Default::default()
            }
        })
        .collect()
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// `num` conversations of one to three user turns (assistant turns between them).
pub fn conversations(seed: u64, num: usize) -> Vec<Value> {
    let mut rng = Rng(seed ^ 0xC0DE);
    (0..num)
        .map(|_| {
            let t = &TOPICS[rng.below(TOPICS.len())];
            let turns = 1 + rng.below(3);
            let mut messages = vec![json!({"role": "system", "content": "Answer from the retrieved documents."})];
            for k in 0..turns {
                if k > 0 {
                    messages.push(json!({"role": "assistant", "content": format!("Here is what the notes say about the {}.", t.name)}));
                }
                let question = match rng.below(4) {
                    0 => format!("What happens to the {} {} in {}?", t.name, rng.pick(t.nouns), rng.pick(t.places)),
                    1 => format!("Why does the {} {}?", rng.pick(t.nouns), rng.pick(t.verbs)),
                    2 => format!("How is the {} related to the {}?", rng.pick(t.nouns), t.name),
                    _ => format!("Tell me about {} {} research.", rng.pick(t.places), t.name),
                };
                messages.push(json!({"role": "user", "content": question}));
            }
            json!({ "messages": messages })
        })
        .collect()
}
