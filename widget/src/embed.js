// Where the app embed's widget goes, and which form is the product form: shared by boot.js (which
// places the embed while the page is parsed, so it paints in place) and backbell.js.
export const CART_FORM = 'form[action*="/cart/add"]';
const PRODUCT_FORM = '[data-type="add-to-cart-form"], product-form form, product-form-component form';

const isAddButton = (el) => el.name === 'add' && el.type === 'submit';

// The form holding the Add to cart button. Not simply the first cart form: Dawn 15 and Horizon render
// Shopify's installments form ({% form 'product' %} + payment_terms) in the price block, above the
// variant picker. Dawn: product-form > form; Horizon: product-form-component > form; both
// data-type="add-to-cart-form" with button[name=add]. form.elements also counts a button tied by form=.
export function productForm() {
  let forms = [...document.querySelectorAll(`main ${CART_FORM}`)];
  if (!forms.length) forms = [...document.querySelectorAll(CART_FORM)];
  return (
    forms.find((f) => [...f.elements].some(isAddButton)) ||
    forms.find((f) => f.matches(PRODUCT_FORM)) ||
    forms.find((f) => !f.querySelector('shopify-payment-terms')) ||
    forms[0]
  );
}

// Right under the Add to cart button: after the product form, or after the button when the theme
// keeps it outside the form (form=). After the form's custom-element wrapper (product-form,
// product-form-component) when the form ends it: such elements are inline unless the theme styles
// them, and Chromium can hit-test blocks inside an inline element as that element, so clicks on the
// widget's form would miss it (seen on an unstyled <product-info>).
function embedAnchor(form) {
  const add = [...form.elements].find(isAddButton);
  if (add && !form.contains(add)) return add;
  const wrapper = form.parentElement;
  return wrapper.localName.includes('-') && wrapper.lastElementChild === form ? wrapper : form;
}

export function placeEmbed() {
  const template = document.querySelector('template[data-backbell-embed]');
  const form = template && !document.querySelector('[data-backbell]') && productForm();
  if (form) embedAnchor(form).after(template.content.cloneNode(true));
}
