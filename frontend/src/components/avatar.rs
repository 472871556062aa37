//! A round avatar with a person's (or group's) initials.

use leptos::prelude::*;

/// Up to two initials: first letters of the first and last word.
pub fn initials(name: &str) -> String {
    let mut words = name.split_whitespace().filter_map(|w| w.chars().next());
    let first = words.next();
    let last = words.next_back();
    let letters: String = first.into_iter().chain(last).collect();
    crate::text::upper(&letters)
}

/// A stable hue (0–359) for a name, so each person keeps their colour.
fn hue(name: &str) -> u32 {
    name.chars()
        .fold(7u32, |h, c| h.wrapping_mul(31).wrapping_add(c as u32))
        % 360
}

#[component]
pub fn Avatar(
    #[prop(into)] name: String,
    /// Smaller variant (messages, chips).
    #[prop(optional)]
    small: bool,
) -> impl IntoView {
    // Through the CSSOM (style.setProperty), not a `style` attribute: the
    // page's Content-Security-Policy allows no inline style attributes.
    let style = ("--avatar-hue", hue(&name).to_string());
    view! {
        <span class="avatar" class:avatar--small=small style=style aria-hidden="true">
            {initials(&name)}
        </span>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_of_names() {
        assert_eq!(initials("Anna Nowak"), "AN");
        assert_eq!(initials("jan"), "J");
        assert_eq!(initials("Anna Maria Nowak"), "AN");
        assert_eq!(initials("  "), "");
        assert_eq!(initials("Łukasz Żak"), "ŁŻ");
    }
}
