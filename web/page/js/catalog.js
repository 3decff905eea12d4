// Every text a person reads on the page, by language.  The page never
// writes a sentence of its own: it asks t(key).
//
// The `en` object below is the source: its keys and English texts go into
// po/noaber.pot (po/update_pot.py, docs/i18n.md), translators fill
// po/LANG.po, and the build turns each into /i18n/LANG.json, which
// setLanguage() fetches.  /i18n/languages.json lists the languages, each in
// its own name.  A key a catalog lacks shows in English.
//
// Languages reviewed by a native speaker: none yet (every po/*.po says so).

export const catalogs = {
  en: {
    dir: 'ltr',
    language_name: 'English',
    skip: 'Skip to the content',
    loading: 'Loading…',
    brand: 'Noaber',
    nav_near: 'Near you',
    nav_ask: 'Ask for help',
    nav_mine: 'Your requests',
    nav_tasks: 'Your tasks',
    go_back: 'Go back',
    mine_title: 'Your requests',
    mine_empty: 'You have not asked for help yet.',
    mine_state_waiting: 'Waiting for a neighbour to offer help',
    mine_state_one: '1 neighbour offered to help — choose them',
    mine_state_many: '{n} neighbours offered to help — choose one',
    mine_state_assigned: '{name} is helping you',
    mine_state_claimed: '{name} says it is done — please confirm',
    mine_state_done: 'Done',
    mine_state_cancelled: 'Cancelled',
    mine_state_expired: 'Expired: nobody can respond any more',
    mine_helpers: 'Neighbours who can help',
    mine_choose: 'Choose {name}',
    mine_is_helper: '{name} is your helper.',
    mine_confirm_button: 'Say it is done',
    mine_cancel_button: 'Cancel this request',
    mine_retract_button: 'Delete this request',
    mine_thanks_sent: 'You said: {thanks}',
    known_by: 'Known to people you trust: {names}',
    known_you: 'you',
    known_not: 'Nobody you trust has vouched for them yet.',
    vouch_link: 'I know {name}',
    message_to: 'Send a message to {name}',
    safety_title: 'Stay safe',
    safety_empty_house: 'Do not tell anyone when your house will be empty.',
    safety_keys: 'Never hand over your keys or bank cards.',
    safety_pairs: 'For tasks inside a home, work in pairs when you can.',
    safety_medical: 'For medical care, call a doctor or a nurse.',
    choose_title: 'Choose {name} as your helper',
    choose_intro: '{name} will be told that you chose them. The other neighbours will see that someone else is helping.',
    choose_contact: 'Your address or phone number for {name}',
    choose_contact_hint: 'Only {name} will be able to read this: not the other neighbours, not the people who run the node.',
    choose_button: 'Choose {name} and send them this',
    choose_done: 'You chose {name}. Only they can read your address.',
    choose_not_possible: 'This neighbour cannot be chosen for this request any more.',
    choose_again: '{name} was your helper until now. If you choose someone else, {name} will see that they are no longer needed.',
    choose_again_sealed: '{name} was your helper and already received your address. Nobody can take that back. If you choose someone else, {name} will see that they are no longer needed.',
    error_contact_missing: 'Write where or how your helper can reach you',
    error_contact_long: 'Make it shorter: at most 2000 letters',
    confirm_title: 'Was it done?',
    confirm_intro: '{name} says "{title}" is done. Say so if it is, and thank them if you want.',
    confirm_thanks: 'A word of thanks for {name} (if you want)',
    confirm_thanks_hint: 'Your neighbours can read this.',
    confirm_button: 'Yes, it is done',
    confirm_done: 'Thank you. Your request is done.',
    error_thanks_long: 'Make it shorter: at most 500 letters',
    cancel_title: 'Cancel "{title}"?',
    cancel_intro: 'Nobody will be able to offer help any more. Your helper, if you chose one, will see it is cancelled.',
    cancel_button: 'Cancel my request',
    cancel_done: 'Your request is cancelled.',
    retract_title: 'Delete "{title}"?',
    retract_intro: 'It will be deleted on every node, with everything neighbours wrote about it. This cannot be undone.',
    retract_button: 'Delete my request',
    retract_done: 'Your request was deleted.',
    tasks_title: 'Your tasks',
    tasks_empty: 'You have not offered to help yet. Look at what is needed near you.',
    tasks_state_waiting: 'You offered to help. {name} has not chosen yet.',
    tasks_state_chosen: '{name} chose you. Thank you for helping!',
    tasks_state_claimed: 'You said it is done. {name} will confirm.',
    tasks_state_done: 'Done',
    tasks_state_other: 'Someone else is helping this time.',
    tasks_thanks: '{name} said thank you: {thanks}',
    tasks_contact: 'Where to reach {name}',
    tasks_contact_hint: 'Only you can read this. Keep it to yourself.',
    tasks_contact_unreadable: 'The address cannot be opened on this phone or computer.',
    tasks_done_button: 'I have done it',
    tasks_withdraw_button: 'I can no longer help',
    tasks_withdrawn: 'You said you can no longer help. {name} can choose someone else.',
    tasks_state_withdrawn: 'You said you can no longer help.',
    tasks_done_sent: 'Thank you! {name} will be asked to confirm.',
    nav_offers: 'Offers',
    nav_you: 'You',
    offers_title: 'Offers',
    offers_intro: 'Help you can give regularly, and what neighbours offer.',
    offers_new_button: 'Offer help regularly',
    offers_mine: 'Your offers',
    offers_mine_empty: 'You have no standing offer.',
    offers_others: 'Offers near you',
    offers_others_empty: 'Nobody offers regular help yet.',
    offer_state_available: 'Neighbours can ask for it',
    offer_state_asked_one: '1 neighbour asked for it — say yes to them',
    offer_state_asked: '{n} neighbours asked for it — say yes to them',
    offer_state_paused: 'Paused: nobody can ask for it now',
    offer_state_withdrawn: 'Withdrawn',
    offer_state_expired: 'Expired: renew it to offer it again',
    offer_by: 'Offered by {name}',
    offer_ask_button: 'Ask for this',
    offer_asked: 'You asked. {name} will tell you.',
    ask_state_pending: 'You asked. {name} has not answered yet.',
    ask_state_assigned: '{name} said yes.',
    ask_state_done_claimed: '{name} says it is done — please confirm',
    ask_state_done: 'Done',
    ask_state_withdrawn: 'Your ask was withdrawn.',
    ask_confirm_button: 'Yes, it is done',
    offer_asks: 'Neighbours who asked',
    offer_ask_state_pending: '{name} asked for this.',
    offer_ask_state_assigned: 'You said yes to {name}.',
    offer_ask_state_done_claimed: 'You said it is done. {name} will confirm.',
    offer_ask_state_done: 'Done',
    offer_yes_button: 'Say yes to {name}',
    offer_yes_done: 'You said yes to {name}.',
    offer_pause_button: 'Pause this offer',
    offer_paused: 'Your offer is paused.',
    offer_resume_button: 'Offer it again',
    offer_resumed: 'Neighbours can ask for your offer again.',
    offer_withdraw_button: 'Stop this offer',
    offer_withdrawn: 'Your offer was withdrawn.',
    offer_renew_button: 'Renew this offer',
    offer_renewed: 'Your offer was renewed.',
    offer_new_title: 'Offer help regularly',
    offer_new_intro: 'Say what you can do, where and when. Neighbours can then ask you.',
    offer_what: 'What can you do?',
    offer_what_hint: 'For example: I can drive to the hospital.',
    offer_area: 'Where, roughly?',
    offer_when: 'When? (if you want)',
    offer_when_hint: 'For example: Tuesday mornings.',
    offer_lifetime: 'For how long?',
    offer_days: '{n} days',
    offer_button: 'Offer this',
    offer_sent: 'Your offer was sent. Neighbours can see it now.',
    error_offer_missing: 'Say what you can do',
    error_when_long: 'Make it shorter: at most 100 letters',
    // The coordinator's screens (care.js).
    care_title: 'Coordinator',
    care_you_intro: 'Do you take requests by phone for people without a phone or computer, at the buurthuis or for family?',
    care_you_link: 'Open the coordinator\'s screens',
    care_intro: 'Ask for help for people who have no phone or computer, and phone them back when a neighbour helps.',
    care_private: 'Names, phone numbers, addresses and notes stay in this browser only, locked with your key. The neighbours and the people who run the node see only the initials or first name.',
    care_back: 'Back to the coordinator\'s screens',
    care_intake_title: 'Take a request by phone',
    care_intake_what: 'Ask for help on someone\'s behalf.',
    care_people_title: 'My people',
    care_people_what: 'The people you ask for, and how their requests are going.',
    care_calls_title: 'Who needs a call',
    care_calls_what: 'A neighbour offered to help, was chosen, or says it is done.',
    care_sheet_title: 'The sheet for the noticeboard',
    care_sheet_what: 'Print what is asked and offered, without names.',
    care_report_title: 'The overview of needs',
    care_report_what: 'How many requests were helped, by kind of help, area or month. Counts only.',
    care_my_phone: 'Your phone number',
    care_my_phone_hint: 'For the sheet, and for helpers of people who want you to arrange things.',
    care_my_phone_button: 'Keep my number',
    care_my_phone_saved: 'Your number is kept in this browser.',
    care_error_field_long: 'Write at most 200 characters',
    care_error_notes_long: 'Write at most 1000 characters in the notes',
    care_error_caseload: 'Your people cannot be opened in this browser: they were kept with another key, or the stored data is damaged. Nothing was changed.',
    care_error_label_missing: 'Write the person\'s initials or first name',
    care_error_label_long: 'Initials or a first name are at most 24 characters',
    care_error_label_word: 'Use initials or a first name only: one word of letters, no digits or spaces. The rest goes in the fields below, which stay in this browser.',
    care_error_area_missing: 'This person is new: write their neighbourhood or postcode, never a street',
    care_error_full: 'Your list of people is full (500 people)',
    care_error_no_my_phone: 'The helper of {label} is to phone you, but you have not kept your own number yet: write it on the coordinator\'s first screen.',
    care_error_no_contact: 'You have no phone number or address for {label}: add one with a new request by phone, or let the helper phone you.',
    care_label: 'Initials or first name',
    care_label_hint: 'The neighbours see this, for example M. or Maria. Never a surname.',
    care_area_hint: 'The neighbourhood or postcode, never a street. Needed the first time only.',
    care_intake_public: 'What the neighbours see',
    care_intake_private: 'What only you see',
    care_name: 'Name',
    care_phone: 'Phone number',
    care_address: 'Address',
    care_notes: 'Notes',
    care_notes_hint: 'What was agreed, for example how to ring the bell.',
    care_contact: 'Who does the helper phone?',
    care_contact_hint: 'Only the chosen helper can read it.',
    care_contact_person: 'The person: their name, phone and address',
    care_contact_me: 'Me: my phone number',
    care_intake_button: 'Send the request',
    care_intake_intro: 'Fill this in while you are on the phone. The request is sent under the initials or first name.',
    care_intake_sent: 'The request for {label} was sent. What you wrote about them stays in this browser.',
    care_state_gone: 'No longer on the node',
    care_state_offered: 'Neighbours who offered to help: {n}',
    care_state_assigned: '{name} is helping',
    care_state_claimed: '{name} says it is done',
    care_forget_button: 'Forget {label}',
    care_forget_hint: 'When the help ends, delete the name, phone, address and notes. The requests stay under the initials until they end.',
    care_forgotten: '{label} is forgotten: name, phone, address and notes are deleted from this browser.',
    care_requests: 'Requests',
    care_people_empty: 'Nobody yet. Take a request by phone to start.',
    care_call_responded: 'Neighbours who offered to help with “{title}”: {n}. Choose one.',
    care_call_assigned: '{helper} is helping with “{title}”: phone {who} with their name.',
    care_call_done_claimed: '{helper} says “{title}” is done: phone {who} to ask, then confirm.',
    care_call_expired: 'Nobody could help with “{title}” in time: phone {who}.',
    care_confirm_for: 'Confirm it is done for {label}',
    care_phoned_button: 'I phoned {label}',
    care_phoned: 'Noted: you phoned {label}.',
    care_calls_none: 'Nobody needs a call right now.',
    care_choose_title: 'Choose {name} to help {label}',
    care_contact_for: 'What {name} gets',
    care_chosen: 'You chose {name} for {label}. Only {name} can read the contact.',
    care_sheet_intro: 'Print this page for the noticeboard. It has no names: people phone you.',
    care_sheet_print: 'Print the sheet',
    care_sheet_no_phone: 'The sheet needs a phone number to call: keep yours on the coordinator\'s first screen.',
    care_sheet_heading: 'Help wanted and offered in {neighbourhood}',
    care_sheet_week: 'Week of {date}',
    care_sheet_requests: 'Neighbours who need help',
    care_sheet_offers: 'Neighbours who offer help',
    care_sheet_none: 'Nothing open this week.',
    care_sheet_area: 'Area',
    care_sheet_category: 'Category',
    care_sheet_when: 'When',
    care_sheet_call: 'To help or to ask for help, phone {phone}',
    care_sheet_privacy: 'No names or addresses here: the coordinator puts you in touch.',
    care_sheet_scan: 'Or scan this to open the neighbourhood\'s page',
    care_sheet_qr_alt: 'QR code to the neighbourhood\'s page',
    care_minutes: '{n} minutes',
    care_hours: '{n} hours',
    care_days: '{n} days',
    care_report_intro: 'Counts only: no names, titles or texts. Small numbers are hidden, because in a small neighbourhood they could point at one person.',
    care_report_by: 'Group by',
    care_report_by_none: 'Nothing: the totals only',
    care_report_by_category: 'Kind of help',
    care_report_by_area: 'Area',
    care_report_by_month: 'Month',
    care_report_button: 'Show the overview',
    care_report_not_shared: 'This node does not share its overview: its operator has not turned it on.',
    care_report_suppressed: 'fewer than 5',
    care_report_group: 'Group',
    care_report_posted: 'Asked',
    care_report_helped: 'Helped',
    care_report_cancelled: 'Cancelled',
    care_report_expired_unhelped: 'Expired with no helper',
    care_report_open: 'Still open',
    care_report_on_behalf: 'Asked for someone else',
    care_report_median_first_response: 'Typical wait for a first offer',
    care_report_median_assignment: 'Typical wait for a helper',
    care_report_caption: 'Requests in {neighbourhood}',
    care_report_chart_caption: 'Asked, helped and expired with no helper, per group. Hatched bars are numbers hidden because they are smaller than 5.',
    care_report_total: 'All',
    care_report_min_cell: 'Numbers from 1 to {n} less one are hidden, and so is a typical wait of fewer than {n} requests. The typical wait is the median.',
    care_report_signed: 'Signed by this node\'s report key {key}: an organisation can check where it came from.',
    care_report_unsigned: 'Not signed.',
    you_title: 'You',
    you_name_button: 'Save my name',
    you_name_saved: 'Neighbours now see you as {name}.',
    you_inbox: 'Messages for you',
    you_inbox_hint: 'Only you can read these.',
    you_inbox_empty: 'No messages.',
    you_vouches: 'People you vouch for',
    you_vouches_empty: 'You have not vouched for anyone yet.',
    vouch_title: 'Do you know {name}?',
    vouch_intro: 'Vouch for {name} only if you know them. Neighbours who trust you will see that you know {name}.',
    vouch_button: 'I know {name}',
    vouch_done: 'You vouched for {name}.',
    vouch_not_possible: 'This is not possible for this person.',
    vouch_retract_button: 'I no longer vouch for {name}',
    vouch_retracted: 'You no longer vouch for {name}.',
    message_title: 'A message for {name}',
    message_text: 'Your message for {name}',
    message_hint: 'Only {name} will be able to read this.',
    message_button: 'Send it to {name}',
    message_sent: 'Your message was sent. Only {name} can read it.',
    message_from: 'From {name}, {when}',
    message_reply: 'Answer {name}',
    error_message_missing: 'Write your message',
    notify_title: 'Notifications',
    notify_intro: 'This phone or computer can tell you when something happens.',
    notify_button: 'Turn on notifications',
    notify_on: 'Notifications are on.',
    notify_denied: 'Notifications are off. You can turn them on in the browser settings.',
    notify_unavailable: 'This browser cannot show notifications.',
    notify_responded: '{name} can help: "{title}"',
    notify_assigned: '{name} chose you: "{title}"',
    notify_claimed: '{name} says "{title}" is done. Please confirm.',
    notify_matches: 'A new request matches your offer: "{title}"',
    notify_message: 'A message from {name}',
    notify_asked: '{name} asked for your offer: "{title}"',
    filter_title: 'Filter the list',
    filter_any: 'Any',
    filter_category: 'What kind of help',
    filter_area: 'Where',
    filter_area_hint: 'A postcode or part of a name, for example 1000 or Marollen.',
    filter_urgency: 'How soon',
    filter_language: 'Language',
    filter_trusted: 'Only people known to people I trust',
    filter_button: 'Show these requests',
    filter_applied: 'The list shows what you chose.',
    near_none_match: 'No request matches what you chose.',
    ask_for: 'Are you asking for someone else? (if you are)',
    ask_for_hint: 'Their first name or initials, so the helper knows who it is for. Not their full name.',
    ask_continue: 'Continue',
    ask_check_title: 'Check your request',
    ask_check_none: 'Nothing',
    ask_change: 'Change',
    ask_check_note: 'Everyone in the neighbourhood will see this.',
    ask_send: 'Send my request',
    error_for_long: 'Make it shorter: at most 64 letters',
    welcome_title: 'Welcome to {neighbourhood}',
    welcome_intro: 'Noaber helps neighbours ask each other for help and offer it. ' +
      'What you post here is seen by the people of {neighbourhood}.',
    welcome_name: 'Your name',
    welcome_name_hint: 'How your neighbours will see you. Your first name is enough.',
    welcome_language: 'Language',
    welcome_button: 'Join {neighbourhood}',
    welcome_used: 'This welcome link was already used or has expired. Ask the person who gave it to you for a new one.',
    welcome_device_note: 'This phone or computer will remember you. If you clear its data, you will need a new welcome link.',
    need_link_title: 'You need a welcome link',
    need_link_text: 'Ask the coordinator of your neighbourhood for a welcome link and open it on this phone or computer.',
    not_admitted: 'This phone or computer is not welcomed on this node any more. Ask the coordinator for a new welcome link.',
    near_title: 'Near you',
    near_empty: 'Nobody has asked for help yet.',
    near_live: 'This list updates by itself.',
    near_by: 'Asked by {name}',
    near_by_for: 'Asked by {name} for {for}',
    near_someone: 'a neighbour',
    near_posted: 'Asked {when}',
    near_help: 'I can help',
    near_helping: 'You said you can help. {name} will choose a helper and tell you more.',
    near_yours: 'You asked for this.',
    ask_title: 'Ask for help',
    ask_intro: 'Tell your neighbours what you need. Keep it short.',
    ask_what: 'What do you need help with?',
    ask_category: 'What kind of help?',
    ask_area: 'Where, roughly?',
    ask_area_hint: 'Your neighbourhood or postcode, never your street or address.',
    ask_urgency: 'How soon?',
    ask_details: 'More details (if you want)',
    ask_details_hint: 'Do not write your address or health details here: everyone in the neighbourhood can read this. You give your address only to the helper you choose.',
    ask_button: 'Ask for help',
    ask_sent: 'Your request was sent. Neighbours can see it now.',
    errors_title: 'There is a problem',
    error_title_missing: 'Say what you need help with',
    error_title_long: 'Make it shorter: at most 120 letters',
    error_area_missing: 'Say where, roughly: a neighbourhood or postcode',
    error_area_long: 'Make the area shorter: at most 64 letters',
    error_details_long: 'Make the details shorter: at most 2000 letters',
    error_name_missing: 'Say how your neighbours should call you',
    error_name_long: 'Make the name shorter: at most 64 letters',
    error_invalid: 'This cannot be sent as it is. Check the text for unusual characters and try again.',
    error_network: 'The page cannot reach the node. Check your connection and try again.',
    error_refused: 'The node did not accept this: {message}',
    time_now: 'just now',
    time_on: 'on {date}',
    nav_language: 'Language',
    nav_main: 'Main menu',
    state_open: 'Open',
    state_assigned: 'Assigned',
    state_done_claimed: 'Done, waiting for confirmation',
    state_done: 'Done',
    state_cancelled: 'Cancelled',
    state_expired: 'Expired',
    state_available: 'Available',
    state_paused: 'Paused',
    state_withdrawn: 'Withdrawn',
    mode_in_person: 'In person',
    mode_remote: 'From a distance',
    mode_either: 'In person or from a distance',
    category_groceries: 'Groceries',
    category_transport: 'Transport',
    category_meals: 'Meals',
    category_company: 'Company',
    category_paperwork: 'Paperwork',
    category_repairs: 'Repairs',
    category_care: 'Care',
    category_childcare: 'Childcare',
    category_pets: 'Pets',
    category_other: 'Other',
    urgency_today: 'Today',
    urgency_this_week: 'This week',
    urgency_this_month: 'This month',
    urgency_whenever: 'Whenever',
    nav_yours: 'Mine',
    notify_when: 'Notifications arrive while this page is open, or installed on your home screen and running; not when it is closed.',
    // Another phone or computer, the copy and the recovery card (devices.js).
    need_link_restore: 'Did you use Noaber on another phone or computer before? With your recovery card or a saved copy, you can use it here again.',
    need_link_restore_button: 'Use my recovery card or copy',
    devices_title: 'Your phones and computers',
    keep_persisted: 'This browser keeps Noaber’s data: it will not delete it by itself.',
    keep_not_persisted: 'This browser may delete Noaber’s data by itself after a while. Put Noaber on your home screen, and print a recovery card.',
    keep_install: 'Put Noaber on your home screen',
    keep_install_asked: 'Your browser asked you. You can also do it later from its menu.',
    keep_install_how: 'To put Noaber on your home screen: on an iPhone or iPad, tap Share, then “Add to Home Screen”. On Android, open the browser’s menu, then “Add to Home screen” or “Install app”.',
    devices_intro: 'Noaber remembers you on this phone or computer. To use it on another one too, or to get it back if this one is lost or its data is cleared:',
    move_link: 'Use Noaber on another phone or computer',
    card_link: 'Print a recovery card to keep at home',
    backup_link: 'Save a copy protected by a password',
    own_devices_title: 'Where Noaber is switched on for you',
    own_devices_intro: 'Each phone, computer or recovery card that opens Noaber for you. If one is lost or stolen, switch it off here: it can no longer open Noaber for you, and the others keep working.',
    own_device_browser: 'A phone or computer',
    own_device_browser_on: 'A phone or computer ({device})',
    own_device_copy: 'Recovery card or saved copy',
    own_device_this: 'This one',
    own_device_added: 'Added {date}',
    own_device_off_since: 'Switched off {date}',
    own_device_off_button: 'Switch off',
    own_device_off_label: 'Switch off: {device}',
    own_device_confirm: 'Switch off “{device}”? It will no longer open Noaber for you, even if someone finds it. The others keep working. To use it again later, you need a new welcome link.',
    own_device_confirm_yes: 'Yes, switch it off',
    own_device_confirm_no: 'No, keep it',
    own_device_done: '“{device}” is switched off: it can no longer open Noaber for you.',
    move_title: 'Use Noaber on another phone or computer',
    move_intro: 'Make a link here, then open it on the other phone or computer, or scan its code with the other phone’s camera. The link works once, for 10 minutes. Both will keep working.',
    move_button: 'Make a link',
    move_ready: 'Open this link on the other phone or computer, or scan the code. It works once, until {time}.',
    move_qr_label: 'A code with the link for your other phone or computer',
    move_copy: 'Copy the link',
    move_copied: 'The link was copied.',
    move_warning: 'Do not send this link to anyone else: whoever opens it first can act in your name.',
    take_title: 'Use Noaber on this phone or computer',
    take_intro: 'You opened a link made on your other phone or computer. Noaber will remember you here too, and keep working there.',
    take_button: 'Continue',
    take_used: 'This link was already used. Make a new one on your other phone or computer.',
    take_expired: 'This link has expired: it works for 10 minutes. Make a new one on your other phone or computer.',
    take_broken: 'This link is not complete. Copy the whole link, or scan the code again.',
    take_done: 'Welcome, {name}. Noaber now works on this phone or computer too.',
    secret_password: 'Choose a password',
    secret_password_hint: 'At least 8 letters. You will need it to use the card or the copy. Nobody can find it again for you, not even the coordinator.',
    secret_again: 'Type the password again',
    secret_working: 'One moment, please…',
    error_password_short: 'Choose a password of at least 8 letters',
    error_password_differs: 'The two passwords are not the same',
    error_password_missing: 'Type your password',
    backup_title: 'Save a copy protected by a password',
    backup_intro: 'The copy brings Noaber back on any phone or computer, for example if this one is lost. It works only with the password you choose now.',
    backup_button: 'Make the copy',
    backup_ready: 'Your copy is ready. Keep the file, or the text below, somewhere safe.',
    backup_download: 'Download the copy',
    backup_text: 'The copy as text',
    backup_file_intro: 'A copy of Noaber, protected by your password. To use it: open the link below on a phone or computer, and type your password.',
    card_title: 'Print a recovery card',
    card_intro: 'A recovery card brings Noaber back on any phone or computer, for example if this one is lost or its data is cleared. It works only with the password you choose now.',
    card_button: 'Make my card',
    card_ready: 'Your card is ready. Print it, and keep it at home.',
    card_print: 'Print the card',
    card_heading: 'Noaber recovery card for {name}',
    card_neighbourhood: 'Neighbourhood: {neighbourhood}',
    card_qr_label: 'The code of your recovery card',
    card_how: 'To use Noaber on a new phone or computer: scan this code with its camera, or type the link below, then type your password.',
    card_keep: 'Keep this card at home, like a house key. Do not give it to anyone, and do not write your password on it.',
    card_lost: 'If you lose this card, ask the coordinator to switch it off.',
    card_made: 'Made on {date}.',
    restore_title: 'Use your recovery card or copy',
    restore_intro: 'Noaber comes back on this phone or computer with your recovery card or your saved copy, and your password.',
    restore_text: 'Your copy, or the link on your card',
    restore_text_hint: 'Paste it here, or choose the saved file below.',
    restore_file: 'Or choose the saved file',
    restore_password: 'Your password',
    restore_button: 'Bring Noaber back',
    restore_done: 'Welcome back, {name}. Noaber works on this phone or computer again.',
    restore_card_off: 'This card or copy was switched off by the coordinator. Ask the coordinator for a new welcome link.',
    error_restore_missing: 'Paste your copy, or choose the saved file',
    error_restore_broken: 'This is not a Noaber copy, or part of it is missing',
    error_restore_password: 'This password does not open the copy. Check it and try again',
  },
};

export const DEFAULT_LANGUAGE = 'en';

let current = catalogs[DEFAULT_LANGUAGE];
let currentTag = DEFAULT_LANGUAGE;
// [[tag, name in itself, dir]], from /i18n/languages.json.
let available = [[DEFAULT_LANGUAGE, catalogs.en.language_name, catalogs.en.dir]];

async function fetchJson(path) {
  const res = await fetch(path, { credentials: 'same-origin' });
  if (!res.ok) throw new Error(path + ': ' + res.status);
  return res.json();
}

// The languages this node's page speaks.  Without the list (an old build,
// a network hiccup) the page still works, in English.
export async function loadLanguages() {
  try {
    const list = await fetchJson('/i18n/languages.json');
    if (Array.isArray(list) && list.length > 0) available = list;
  } catch (e) {
    // English only.
  }
  return available;
}

export function languages() {
  return available;
}

// The language of the page: the one chosen, else the browser's first that
// has a catalog, else English.
export function chooseLanguage(saved) {
  const tags = new Set(available.map((l) => l[0]));
  const wanted = [saved, ...(navigator.languages || [])].filter(Boolean);
  for (const tag of wanted) {
    const base = tag.toLowerCase().split('-')[0];
    if (tags.has(base)) return base;
  }
  return DEFAULT_LANGUAGE;
}

// Loads the catalog of `tag` and makes it the page's language: <html lang
// dir> follow, so that Arabic lays out right to left.
export async function setLanguage(tag) {
  if (!available.some((l) => l[0] === tag)) tag = DEFAULT_LANGUAGE;
  if (!catalogs[tag]) {
    try {
      catalogs[tag] = await fetchJson('/i18n/' + tag + '.json');
    } catch (e) {
      tag = DEFAULT_LANGUAGE;
    }
  }
  currentTag = tag;
  current = catalogs[tag];
  document.documentElement.lang = tag;
  document.documentElement.dir = current.dir === 'rtl' ? 'rtl' : 'ltr';
}

export function language() {
  return currentTag;
}

// A date and time as people of the chosen language write it.
export function formatDate(seconds) {
  return new Intl.DateTimeFormat(currentTag, { dateStyle: 'medium', timeStyle: 'short' })
    .format(new Date(seconds * 1000));
}

// "5 minutes ago", "il y a 2 heures", "منذ 3 أيام": a past moment relative to
// now, with the plural rules of the chosen language; a week or more back, the date.
export function formatAgo(seconds, nowSeconds) {
  const s = Math.max(0, nowSeconds - seconds);
  if (s < 120) return t('time_now');
  if (s >= 7 * 86400) return t('time_on', { date: formatDate(seconds) });
  const rtf = new Intl.RelativeTimeFormat(currentTag, { numeric: 'auto' });
  if (s < 7200) return rtf.format(-Math.floor(s / 60), 'minute');
  if (s < 2 * 86400) return rtf.format(-Math.floor(s / 3600), 'hour');
  return rtf.format(-Math.floor(s / 86400), 'day');
}

// The text of `key` with {name} placeholders filled in.  A missing key shows
// as itself, so that a gap in a catalog is visible rather than silent.
//
// Each value is put between U+2068 FIRST STRONG ISOLATE and U+2069 POP
// DIRECTIONAL ISOLATE: a value is laid out in its own direction and its
// neighbours are not reordered by it.  Without them "Marollen" in an Arabic
// sentence pulls the following full stop or number to its side, and an
// Arabic name in a French sentence swaps the words around it.  Done here
// once, every sentence that takes a name, a place, a number or a date gets it.
const FSI = '\u2068';
const PDI = '\u2069';

export function t(key, vars = {}) {
  const text = current[key] ?? catalogs[DEFAULT_LANGUAGE][key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? FSI + String(vars[name]) + PDI : m));
}
