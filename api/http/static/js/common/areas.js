// Pick lists of places: the villages of a township, by name (from the areas in the user's scope).
import { getConfig } from "./config.js";
import { fill, h } from "./dom.js";

/** Fill a village <select> with the villages of `township` (none without one); the choice is kept when it is
 * still one of them. `everything` is the label of the empty option. */
export function fillVillages(select, areas, township, everything) {
  const keep = select.value;
  fill(select, h("option", { value: "" }, everything),
    areas.filter((a) => a.level === getConfig().levels.village && township && a.township_code === township)
      .map((a) => h("option", { value: a.code }, a.name)));
  select.value = [...select.options].some((o) => o.value === keep) ? keep : "";
}
