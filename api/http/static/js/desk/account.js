// My account: change my own password (the current one is asked again). Every session ends with it, this one
// too, so the page goes to the login form, which says so.
import { postJSON } from "../common/api.js";
import { t } from "../common/lang.js";

const form = document.getElementById("rl-password");
const error = document.getElementById("rl-password-error");

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  error.textContent = "";
  const { current_password: current, new_password: fresh, repeat } = form.elements;
  if (fresh.value !== repeat.value) {
    error.textContent = t("两次输入的新密码不一致", "the two new passwords differ");
    return;
  }
  try {
    await postJSON("/api/auth/password", { current_password: current.value, new_password: fresh.value });
  } catch (err) {
    error.textContent = err.message;
    return;
  }
  window.location.assign("/login?changed=1&next=/desk/cases");
});
document.body.dataset.loaded = String(Date.now());
