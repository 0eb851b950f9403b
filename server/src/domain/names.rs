//! Random run names in MLflow's style (`adjective-noun-123`), for runs created without one.

const ADJECTIVES: &[&str] = &[
    "abundant",
    "agreeable",
    "amazing",
    "ambitious",
    "bold",
    "brave",
    "bright",
    "calm",
    "capable",
    "casual",
    "clean",
    "clever",
    "colorful",
    "crisp",
    "curious",
    "dapper",
    "defiant",
    "delicate",
    "eager",
    "earnest",
    "enchanting",
    "fearless",
    "festive",
    "fun",
    "gentle",
    "gifted",
    "glamorous",
    "graceful",
    "handsome",
    "honorable",
    "hilarious",
    "judicious",
    "kindly",
    "languid",
    "lyrical",
    "magnificent",
    "merciful",
    "mysterious",
    "nebulous",
    "nimble",
    "orderly",
    "polite",
    "powerful",
    "puzzled",
    "redolent",
    "resilient",
    "rogue",
    "rumbling",
    "salty",
    "secretive",
    "selective",
    "sedate",
    "serious",
    "shivering",
    "silent",
    "sincere",
    "skillful",
    "spiffy",
    "stately",
    "stylish",
    "suave",
    "thoughtful",
    "tranquil",
    "unequaled",
    "upbeat",
    "useful",
    "valuable",
    "victorious",
    "wise",
    "worried",
    "youthful",
    "zealous",
];

const NOUNS: &[&str] = &[
    "ant", "ape", "asp", "auk", "bass", "bat", "bear", "bee", "bird", "boar", "bug", "calf",
    "carp", "cat", "chimp", "cod", "colt", "conch", "cow", "crab", "crane", "croc", "crow", "cub",
    "deer", "doe", "dog", "dolphin", "donkey", "dove", "duck", "eel", "elk", "fawn", "finch",
    "fish", "flea", "fly", "foal", "fowl", "fox", "frog", "gnat", "gnu", "goat", "goose", "grouse",
    "grub", "gull", "hare", "hawk", "hen", "hog", "horse", "hound", "jay", "kit", "kite", "koi",
    "lamb", "lark", "loon", "lynx", "mare", "midge", "mink", "mole", "moose", "moth", "mouse",
    "mule", "newt", "owl", "ox", "panda", "penguin", "perch", "pig", "pug", "quail", "ram", "rat",
    "ray", "robin", "roo", "rook", "seal", "shad", "shark", "sheep", "shoat", "shrew", "shrike",
    "shrimp", "skink", "skunk", "sloth", "slug", "smelt", "snail", "snake", "snipe", "sow",
    "sponge", "squid", "squirrel", "stag", "steed", "stoat", "stork", "swan", "tern", "toad",
    "trout", "turtle", "vole", "wasp", "whale", "wolf", "worm", "wren", "yak", "zebra",
];

/// A fresh random run name such as `calm-owl-417`.
pub fn random_run_name() -> String {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let pick = |i: usize, n: usize| (u16::from_le_bytes([bytes[i], bytes[i + 1]]) as usize) % n;
    format!(
        "{}-{}-{}",
        ADJECTIVES[pick(0, ADJECTIVES.len())],
        NOUNS[pick(2, NOUNS.len())],
        pick(4, 1000)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_have_three_parts() {
        let name = super::random_run_name();
        assert_eq!(name.split('-').count(), 3, "{name}");
    }
}
