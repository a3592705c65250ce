// The report's print button. A module of its own, since the page's policy allows no
// inline script; without scripts the button stays hidden and the hint beside it says
// how to print.
const button = document.getElementById('print');
if (button) {
  button.hidden = false;
  button.addEventListener('click', () => window.print());
}
