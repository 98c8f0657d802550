// Student pages: ask before an action that cannot be undone (forms with data-confirm).
// The pages work without this script; it only adds the question.
document.addEventListener("submit", function (event) {
  var question = event.target.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
