import { createApp } from "vue";
import "element-plus/es/components/message/style/css";
import "element-plus/es/components/message-box/style/css";
import "./styles.css";
import App from "./App.vue";
import { i18n } from "./i18n";
import { router } from "./router";
import { keepSessionAlive } from "./api/http";

document.documentElement.lang = i18n.global.locale.value;
createApp(App).use(i18n).use(router).mount("#app");
keepSessionAlive();
